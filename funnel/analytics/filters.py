"""The one filter object every analytics query takes: period, attribute values and the reader's scope."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import ColumnElement

from funnel.access.permissions import Scope
from funnel.core.clock import day_start_utc, next_day
from funnel.store.models import Customer, User

# Attributes a funnel can be split by; periods are bucketed from the creation day.
ATTRIBUTE_FIELDS = ("channel", "owner", "region", "industry", "grade")
PERIOD_FIELDS = ("created_week", "created_month")
SEGMENT_FIELDS = ATTRIBUTE_FIELDS + PERIOD_FIELDS


@dataclass(frozen=True)
class CustomerFilter:
    """Which customers an analysis covers: created in [since, until], attribute values, visible owners."""

    since: date | None = None
    until: date | None = None
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Which customers the reader may see: set by the analytics entry points from their actor
    # (funnel.access.permissions.customer_scope), never by a caller.
    scope: Scope | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        # since / until are the team's calendar days (funnel.core.clock), stored times are UTC.
        if self.since:
            conds.append(Customer.created_at >= day_start_utc(self.since))
        if self.until:
            conds.append(Customer.created_at < day_start_utc(next_day(self.until)))
        for name, wanted in self.values.items():
            if name not in ATTRIBUTE_FIELDS:
                raise ValueError(f"cannot filter by {name!r}; use one of {', '.join(ATTRIBUTE_FIELDS)}")
            if wanted:
                column = User.username if name == "owner" else getattr(Customer, name)
                conds.append(column.in_(wanted))
        if self.scope is not None:
            conds.extend(self.scope.conditions())
        return conds

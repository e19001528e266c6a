"""The one filter object every analytics query takes: period, attribute values and the reader's scope."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import ColumnElement, and_, exists, or_, select

from funnel.access.permissions import Scope
from funnel.core.clock import day_start_utc, next_day
from funnel.store.models import Activity, Customer, CustomerTag, ListItem, StageEvent, User

# Attributes a funnel can be split by; periods are bucketed from the creation day.
ATTRIBUTE_FIELDS = ("channel", "campaign", "owner", "team", "region", "industry", "grade")
PERIOD_FIELDS = ("created_week", "created_month")
SEGMENT_FIELDS = ATTRIBUTE_FIELDS + PERIOD_FIELDS
# What a filter can narrow by: the attributes and the customer's tags (codes of the `tag` list; a
# customer has any number of them, so tags filter but do not split).
FILTER_FIELDS = (*ATTRIBUTE_FIELDS, "tag")
# Which customers a period selects: those created in it (a cohort), or those with activity in it (an
# activity recorded or a stage change: who was worked on in the period, whenever they came in).
CREATED, ACTIVE = "created", "active"
BASES = (CREATED, ACTIVE)


@dataclass(frozen=True)
class CustomerFilter:
    """Which customers an analysis covers: the period [since, until] on its basis, attribute values,
    the reader's scope. `values` maps a FILTER_FIELDS name to the wanted values (any of them)."""

    since: date | None = None
    until: date | None = None
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Which customers the reader may see: set by the analytics entry points from their actor
    # (funnel.access.permissions.customer_scope), never by a caller.
    scope: Scope | None = None
    basis: str = CREATED

    def __post_init__(self) -> None:
        if self.basis not in BASES:
            raise ValueError(f"unknown period basis {self.basis!r}; use one of {', '.join(BASES)}")
        for name in self.values:
            if name not in FILTER_FIELDS:
                raise ValueError(f"cannot filter by {name!r}; use one of {', '.join(FILTER_FIELDS)}")

    @property
    def bounded(self) -> bool:
        return self.since is not None or self.until is not None

    def conditions(self) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        # since / until are the team's calendar days (funnel.core.clock), stored times are UTC.
        if self.basis == ACTIVE:
            if self.bounded:
                conds.append(self._active_in_period())
        else:
            if self.since:
                conds.append(Customer.created_at >= day_start_utc(self.since))
            if self.until:
                conds.append(Customer.created_at < day_start_utc(next_day(self.until)))
        for name, wanted in self.values.items():
            if wanted:
                conds.append(_attribute_condition(name, tuple(wanted)))
        if self.scope is not None:
            conds.extend(self.scope.conditions())
        return conds

    def _active_in_period(self) -> ColumnElement[bool]:
        """An activity or a stage change of the customer falls within the period.

        The stored last_active_at (funnel.store.last_active) answers it alone for a period that runs to
        today: the latest moment is in the period, or nothing happened in it. For a period that ended
        earlier, a customer whose latest moment is after the period may still have had one in it: only
        for those is the history looked up, by the customer's own rows (an index probe each). Not an IN
        over the period's history: under the OR, PostgreSQL cannot make that a join, and a set too large
        for work_mem becomes a list read again for every customer.
        """
        start = day_start_utc(self.since) if self.since else None
        end = day_start_utc(next_day(self.until)) if self.until else None
        latest = Customer.last_active_at
        bounds = [latest >= start] if start is not None else []
        in_period = and_(*bounds, latest < end) if end is not None else and_(latest.is_not(None), *bounds)
        if end is None:
            return in_period

        def happened(model: type[Activity] | type[StageEvent]) -> ColumnElement[bool]:
            within = [model.at >= start, model.at < end] if start is not None else [model.at < end]
            return exists().where(model.customer_id == Customer.id, *within)

        return or_(in_period, and_(latest >= end, or_(happened(Activity), happened(StageEvent))))


def _attribute_condition(name: str, wanted: tuple[str, ...]) -> ColumnElement[bool]:
    if name == "owner":
        # By username; a sub-select, so that no caller has to join the user table.
        return Customer.owner_id.in_(select(User.id).where(User.username.in_(wanted)))
    if name == "tag":
        tagged = (
            exists()
            .where(CustomerTag.customer_id == Customer.id)
            .where(CustomerTag.tag_id == ListItem.id, ListItem.list_name == "tag", ListItem.code.in_(wanted))
        )
        return tagged
    column: ColumnElement[str | None] = getattr(Customer, name)
    return column.in_(wanted)

"""The dashboard's KPI tiles, each with the same figure for the previous period of the same length.

Each tile counts what happened in the period, by the date of the event it names: new leads by their
creation, won and lost by the day they were won or lost, money collected by the day it was received.
The open pipeline is a state, not an event: the open opportunities at the end of each period, rebuilt
from the stage history (so the previous period's figure is what was open then, not now).
The attribute filters (channel, owner, ...) and the reader's scope apply to every tile; the creation
period of the filter object does not (the period here is the tiles' own).
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.rollups import readers_filter
from funnel.core.clock import day_start_utc, team_zone
from funnel.pipeline.stages import LOST, WON
from funnel.store.models import Contract, Customer, Opportunity, Payment, StageEvent, User

KPI_KEYS = (
    "new_leads",
    "won",
    "win_rate",
    "won_amount",
    "median_days_to_win",
    "speed_to_lead_hours",
    "open_pipeline",
    "collected",
)
_S = TypeVar("_S", bound=Select)
# Tiles where a fall is good news (the delta is shown green when it goes down).
LOWER_IS_BETTER = frozenset({"median_days_to_win", "speed_to_lead_hours"})


@dataclass(frozen=True)
class Kpi:
    key: str
    value: float | None
    previous: float | None  # the previous period of the same length; None without a bounded period

    @property
    def change(self) -> float | None:
        """value - previous, where both exist."""
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous


@dataclass(frozen=True)
class Window:
    """[start, end) in naive UTC; start None = from the beginning."""

    start: datetime | None
    end: datetime


def windows(since: date | None, until: date | None, *, today: date) -> tuple[Window, Window | None]:
    """The period's window (the team's days since..until, inclusive) and the one before it, as long."""
    end = day_start_utc((until or today) + timedelta(days=1))
    if since is None:
        return Window(None, end), None
    start = day_start_utc(since)
    return Window(start, end), Window(start - (end - start), start)


def _attributes_only(filters: CustomerFilter) -> CustomerFilter:
    return dataclasses.replace(filters, since=None, until=None)


def _where(stmt: _S, filters: CustomerFilter) -> _S:
    if filters.values.get("owner"):
        stmt = stmt.outerjoin(User, User.id == Customer.owner_id)
    conditions = filters.conditions()
    return stmt.where(and_(*conditions)) if conditions else stmt


def _between(column: Any, window: Window) -> ColumnElement[bool]:
    if window.start is None:
        return column < window.end  # type: ignore[no-any-return,unused-ignore]
    return and_(column >= window.start, column < window.end)


def _deal_amount() -> ColumnElement[Any]:
    signed = select(func.sum(Contract.amount)).where(Contract.customer_id == Customer.id).scalar_subquery()
    expected = (
        select(func.sum(Opportunity.amount)).where(Opportunity.customer_id == Customer.id).scalar_subquery()
    )
    return func.coalesce(signed, expected, 0)


def _figures(session: Session, filters: CustomerFilter, window: Window) -> dict[str, float | None]:
    new_leads = session.scalar(
        _where(
            select(func.count()).select_from(Customer).where(_between(Customer.created_at, window)), filters
        )
    )
    won_rows = session.execute(
        _where(
            select(Customer.created_at, Customer.won_at, _deal_amount())
            .select_from(Customer)
            .where(Customer.status == WON, _between(Customer.won_at, window)),
            filters,
        )
    ).all()
    lost = session.scalar(
        _where(
            select(func.count())
            .select_from(Customer)
            .where(Customer.status == LOST, _between(Customer.lost_at, window)),
            filters,
        )
    )
    first_contacts = session.execute(
        _where(
            select(Customer.created_at, Customer.first_contacted_at)
            .select_from(Customer)
            .where(_between(Customer.created_at, window), Customer.first_contacted_at.is_not(None)),
            filters,
        )
    ).all()
    collected = session.scalar(
        _where(
            select(func.coalesce(func.sum(Payment.amount), 0))
            .select_from(Payment)
            .join(Customer, Customer.id == Payment.customer_id)
            .where(_between_days(Payment.received_on, window)),
            filters,
        )
    )
    won = len(won_rows)
    days_to_win = [(won_at - created).total_seconds() / 86400 for created, won_at, _ in won_rows if won_at]
    hours_to_contact = [
        max(0.0, (contacted - created).total_seconds() / 3600)
        for created, contacted in first_contacts
        if contacted is not None
    ]
    return {
        "new_leads": float(new_leads or 0),
        "won": float(won),
        "win_rate": won / (won + int(lost or 0)) if won + int(lost or 0) else None,
        "won_amount": float(sum(float(amount or 0) for *_, amount in won_rows)),
        "median_days_to_win": statistics.median(days_to_win) if days_to_win else None,
        "speed_to_lead_hours": statistics.median(hours_to_contact) if hours_to_contact else None,
        "open_pipeline": open_pipeline_at(session, filters, window.end),
        "collected": float(collected or 0),
    }


def _between_days(column: Any, window: Window) -> ColumnElement[bool]:
    """A DATE column (the team's calendar day) within the window's days."""
    end_day = _team_day(window.end)
    if window.start is None:
        return column < end_day  # type: ignore[no-any-return,unused-ignore]
    return and_(column >= _team_day(window.start), column < end_day)


def _team_day(at: datetime) -> date:
    return at.replace(tzinfo=UTC).astimezone(team_zone()).date()


def open_pipeline_at(session: Session, filters: CustomerFilter, at: datetime) -> float:
    """The amount of opportunities created before `at` whose customer was open at `at` (by its history)."""
    last_stage = (
        select(StageEvent.to_stage)
        .where(StageEvent.customer_id == Customer.id, StageEvent.at < at)
        .order_by(StageEvent.at.desc(), StageEvent.id.desc())
        .limit(1)
        .correlate(Customer)
        .scalar_subquery()
    )
    stmt = (
        select(func.coalesce(func.sum(Opportunity.amount), 0))
        .select_from(Opportunity)
        .join(Customer, Customer.id == Opportunity.customer_id)
        .where(Opportunity.created_at < at, Customer.created_at < at, last_stage.not_in([WON, LOST]))
    )
    return float(session.scalar(_where(stmt, filters)) or 0)


def kpi_tiles(
    session: Session,
    *,
    actor: Actor,
    since: date | None,
    until: date | None,
    today: date,
    filters: CustomerFilter | None = None,
) -> list[Kpi]:
    """Every KPI for the period since..until (the team's days) and the period before it."""
    scoped = _attributes_only(readers_filter(session, actor, filters))
    current, previous = windows(since, until, today=today)
    now = _figures(session, scoped, current)
    before = _figures(session, scoped, previous) if previous else {}
    return [Kpi(key, now[key], before.get(key)) for key in KPI_KEYS]

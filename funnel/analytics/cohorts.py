"""Trends: volume and conversion of the customers created in each week or month (cohorts).

A cohort with customers still open is incomplete: its open customers could still convert, so they are
not counted as lost. Its win rate is over the closed ones only (won / (won + lost)); its conversion to
won (won / customers) can still rise, and the page marks it.

The periods are the team's weeks (ISO, Monday first) and months, truncated in SQL: on PostgreSQL in the
team's zone itself; SQLite has no zones, so the zone's current offset from UTC is applied (exact for
zones without daylight saving, such as the default Asia/Shanghai).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.funnel_math import ratio
from funnel.analytics.rollups import _furthest_ranks, _scoped, readers_filter
from funnel.core.clock import team_zone
from funnel.pipeline.stages import LOST, WON, Pipeline, get_pipeline
from funnel.store.models import Customer

PERIODS = ("week", "month")
COHORT_COLUMNS = [
    "cohort", "start", "end", "customers", "open", "won", "lost",
    "conversion_to_won", "win_rate", "open_share", "incomplete",
]  # fmt: skip


def _period_start(period: str, dialect: str) -> ColumnElement[Any]:
    """The first day of the customer's creation week or month, in the team's zone."""
    zone = team_zone()
    if dialect == "postgresql":
        local = func.timezone(zone.key, func.timezone("UTC", Customer.created_at))
        return func.date(func.date_trunc(period, local))
    offset = datetime.now(zone).utcoffset() or timedelta(0)
    shift = f"{int(offset.total_seconds() // 60):+d} minutes"
    if period == "week":
        # SQLite: 'weekday 0' moves on to the next Sunday (or stays on one); six days back is Monday.
        return func.date(Customer.created_at, shift, "weekday 0", "-6 days")
    return func.date(Customer.created_at, shift, "start of month")


def cohort_label(start: date, period: str) -> str:
    """2026-W05 for a week (ISO), 2026-02 for a month: the labels of `report --by created_week/month`."""
    if period == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{start.year}-{start.month:02d}"


def period_end(start: date, period: str) -> date:
    """The last day of the week or month that starts on `start`."""
    if period == "week":
        return start + timedelta(days=6)
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return following - timedelta(days=1)


def cohorts(
    session: Session,
    *,
    actor: Actor,
    period: str = "week",
    filters: CustomerFilter | None = None,
    pipeline: Pipeline | None = None,
) -> pd.DataFrame:
    """One row per creation week or month (oldest first): COHORT_COLUMNS plus `reached_<stage>` counts."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    pipeline = pipeline or get_pipeline()
    filters = readers_filter(session, actor, filters)
    start = _period_start(period, session.get_bind().dialect.name).label("start")
    stmt = select(start, Customer.status, Customer.furthest_stage, func.count()).select_from(Customer)
    stmt = _scoped(stmt, filters).group_by(start, Customer.status, Customer.furthest_stage)
    raw = pd.DataFrame(session.execute(stmt).all(), columns=["start", "status", "furthest", "customers"])
    stages = pipeline.funnel_keys
    reached_columns = [f"reached_{stage}" for stage in stages]
    if raw.empty:
        return pd.DataFrame(columns=[*COHORT_COLUMNS, *reached_columns])
    raw["start"] = pd.to_datetime(raw["start"]).dt.date
    raw["furthest"] = _furthest_ranks(raw["furthest"], pipeline)
    raw["customers"] = raw["customers"].astype("int64")
    rows = []
    for cohort_start, group in raw.groupby("start", sort=True):
        by_status = group.groupby("status")["customers"].sum()
        total = int(group["customers"].sum())
        won, lost = int(by_status.get(WON, 0)), int(by_status.get(LOST, 0))
        still_open = total - won - lost
        day = cohort_start if isinstance(cohort_start, date) else date.fromisoformat(str(cohort_start))
        row: dict[str, object] = {
            "cohort": cohort_label(day, period),
            "start": day,
            "end": period_end(day, period),
            "customers": total,
            "open": still_open,
            "won": won,
            "lost": lost,
            "conversion_to_won": ratio(won, total),
            "win_rate": ratio(won, won + lost),
            "open_share": ratio(still_open, total),
            "incomplete": still_open > 0,
        }
        for rank, column in enumerate(reached_columns):
            row[column] = int(group.loc[group["furthest"] >= rank, "customers"].sum())
        rows.append(row)
    return pd.DataFrame(rows, columns=[*COHORT_COLUMNS, *reached_columns])

"""Velocity: how long customers stay in each stage and take from lead to won, and where deals stall.

Time in a stage comes from the stage history: from the event that entered the stage to the customer's
next event (a move forward, back, or to won / lost). A customer who visits a stage twice (back and
forth) spends the sum of both visits there; a visit still running (no next event yet) is not counted,
since its length is not known. Lead -> won is from creation to the day it was won.

Everything is computed in SQL: the visits by a window function (LEAD), each customer's days per stage
summed, then ranked per (segment, stage), and only the rows either side of the 50th and 80th
percentile are read back; pandas interpolates between them (numpy's "linear" percentile).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, and_, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, require
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.rollups import _scoped, readers_filter
from funnel.analytics.segments import DRILL_COLUMNS, DRILL_LIMIT, customer_list_select, with_segment
from funnel.core.clock import utcnow
from funnel.pipeline.rules import OPEN
from funnel.pipeline.stages import WON, Pipeline, get_pipeline
from funnel.store.models import Customer, StageEvent

LEAD_TO_WON = "lead_to_won"
PERCENTILES = (50, 80)
VELOCITY_COLUMNS = ["segment", "stage", "customers", "median_days", "p80_days"]


def _days_between(start: Any, end: Any, dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.extract("epoch", end - start) / 86400.0
    return func.julianday(end) - func.julianday(start)


def _durations(
    session: Session, *, dimension: str | None, filters: CustomerFilter, pipeline: Pipeline
) -> Any:
    """(segment, customer, stage, days): each customer's days per stage summed over visits; lead -> won."""
    dialect = session.get_bind().dialect.name
    base = select(
        StageEvent.customer_id.label("customer_id"), StageEvent.to_stage.label("stage"), StageEvent.at
    ).select_from(StageEvent)
    base = base.join(Customer, Customer.id == StageEvent.customer_id)
    if dimension is None:
        segment: ColumnElement[Any] = literal(None).label("segment")
        visits_stmt = _scoped(base, filters)
    else:
        visits_stmt, column = with_segment(base, dimension, filters)
        segment = column
    # A customer with two tags is in two segments: the window runs within each (segment, customer) so
    # that the duplicated events do not interleave.
    # (PostgreSQL refuses a constant in PARTITION BY, so without a split it is the customer alone.)
    partition = [StageEvent.customer_id] if dimension is None else [segment, StageEvent.customer_id]
    left = func.lead(StageEvent.at).over(partition_by=partition, order_by=[StageEvent.at, StageEvent.id])
    visits = visits_stmt.add_columns(segment.label("segment"), left.label("left_at")).subquery()
    per_stage = (
        select(
            visits.c.segment,
            visits.c.customer_id,
            visits.c.stage,
            func.sum(_days_between(visits.c.at, visits.c.left_at, dialect)).label("days"),
        )
        .where(visits.c.left_at.is_not(None), visits.c.stage.in_(pipeline.keys))
        .group_by(visits.c.segment, visits.c.customer_id, visits.c.stage)
    )
    won_base = select(Customer.id.label("customer_id")).select_from(Customer)
    if dimension is None:
        won_stmt = _scoped(won_base, filters)
        won_segment: ColumnElement[Any] = literal(None)
    else:
        won_stmt, won_segment = with_segment(won_base, dimension, filters)
    won_rows = (
        won_stmt.add_columns(
            won_segment.label("segment"),
            literal(LEAD_TO_WON).label("stage"),
            _days_between(Customer.created_at, Customer.won_at, dialect).label("days"),
        )
        .where(Customer.status == WON, Customer.won_at.is_not(None))
        .subquery()
    )
    to_won = select(won_rows.c.segment, won_rows.c.customer_id, won_rows.c.stage, won_rows.c.days)
    return union_all(per_stage, to_won).subquery()


def _percentile_rows(session: Session, durations: Any) -> pd.DataFrame:
    """Per (segment, stage): n, and the few ranked rows the percentiles interpolate between."""
    ranked = select(
        durations.c.segment,
        durations.c.stage,
        durations.c.days,
        func.row_number()
        .over(partition_by=[durations.c.segment, durations.c.stage], order_by=durations.c.days)
        .label("rn"),
        func.count().over(partition_by=[durations.c.segment, durations.c.stage]).label("n"),
    ).subquery()
    # The 0-based position p·(n-1) in whole-number arithmetic (no float rounding between backends):
    # read the rows at its floor and the one after.
    wanted = [
        and_(ranked.c.rn - 1 >= floor, ranked.c.rn - 1 <= floor + 1)
        for floor in ((p * (ranked.c.n - 1)) // 100 for p in PERCENTILES)
    ]
    stmt = select(ranked.c.segment, ranked.c.stage, ranked.c.n, ranked.c.rn, ranked.c.days).where(
        or_(*wanted)
    )
    return pd.DataFrame(session.execute(stmt).all(), columns=["segment", "stage", "n", "rn", "days"])


def percentile(values_by_rank: dict[int, float], n: int, p: int) -> float:
    """The p-th percentile (numpy "linear") of n sorted values, given the values at the ranks it needs."""
    position = p * (n - 1)
    low, rest = divmod(position, 100)
    value = values_by_rank[low + 1]
    if rest:
        value += (values_by_rank[low + 2] - value) * rest / 100
    return float(value)


def _fold(rows: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (segment, stage), group in rows.groupby(["segment", "stage"], dropna=False, sort=False):
        n = int(group["n"].iloc[0])
        ranks = {int(r): float(d) for r, d in zip(group["rn"], group["days"], strict=True)}
        out.append(
            {
                "segment": None if pd.isna(segment) else segment,
                "stage": stage,
                "customers": n,
                "median_days": percentile(ranks, n, 50),
                "p80_days": percentile(ranks, n, 80),
            }
        )
    return pd.DataFrame(out, columns=VELOCITY_COLUMNS)


@dataclass(frozen=True)
class Velocity:
    """Days per stage (and lead -> won) per segment, and the stage where each segment stalls longest."""

    dimension: str | None
    stages: list[str]
    table: pd.DataFrame  # VELOCITY_COLUMNS; stage is a pipeline stage or LEAD_TO_WON

    def stage_rows(self) -> pd.DataFrame:
        return self.table[self.table["stage"] != LEAD_TO_WON]

    def to_won(self) -> pd.DataFrame:
        return self.table[self.table["stage"] == LEAD_TO_WON]

    def stall_stage(self, segment: str | None = None) -> str | None:
        """The stage with the longest median stay (of `segment`; None: the overall or the only one)."""
        rows = self.stage_rows()
        rows = rows[rows["segment"].isna()] if segment is None else rows[rows["segment"] == segment]
        if rows.empty:
            return None
        return str(rows.sort_values(["median_days", "stage"], ascending=[False, True])["stage"].iloc[0])


def velocity(
    session: Session,
    *,
    actor: Actor,
    dimension: str | None = None,
    filters: CustomerFilter | None = None,
    pipeline: Pipeline | None = None,
) -> Velocity:
    """Median and 80th-percentile days in each stage and from lead to won, overall or per segment."""
    pipeline = pipeline or get_pipeline()
    filters = readers_filter(session, actor, filters)
    durations = _durations(session, dimension=dimension, filters=filters, pipeline=pipeline)
    table = _fold(_percentile_rows(session, durations))
    order = {key: i for i, key in enumerate([*pipeline.keys, LEAD_TO_WON])}
    if not table.empty:
        table = table.sort_values(
            ["segment", "stage"], key=lambda col: col.map(order) if col.name == "stage" else col.fillna("")
        ).reset_index(drop=True)
        table["segment"] = table["segment"].astype("object").where(table["segment"].notna(), None)
    return Velocity(dimension=dimension, stages=pipeline.keys, table=table)


def stalled_customers(
    session: Session,
    *,
    actor: Actor,
    stage: str,
    filters: CustomerFilter | None = None,
    now: datetime | None = None,
    limit: int = DRILL_LIMIT,
) -> pd.DataFrame:
    """Open customers now in `stage`, longest there first, with `days_in_stage` (since last entering it)."""
    require(actor, "customer.read")
    filters = readers_filter(session, actor, filters)
    entered = (
        select(func.max(StageEvent.at))
        .where(StageEvent.customer_id == Customer.id, StageEvent.to_stage == stage)
        .correlate(Customer)
        .scalar_subquery()
    )
    stmt = _scoped(customer_list_select().add_columns(entered.label("entered")), filters)
    stmt = stmt.where(Customer.status == OPEN, Customer.stage == stage)
    stmt = stmt.order_by(entered.asc(), Customer.id).limit(limit)
    frame = pd.DataFrame(session.execute(stmt).all(), columns=[*DRILL_COLUMNS, "entered"])
    now = now or utcnow()
    frame["days_in_stage"] = [
        None if pd.isna(at) else round((now - at).total_seconds() / 86400, 1) for at in frame["entered"]
    ]
    return frame.drop(columns="entered")

"""Conversion by segment: each stage's step conversion per value of a dimension, counted in SQL.

A dimension is a customer attribute (channel, campaign, team, region, industry, grade), its owner or
its tags. A customer is in exactly one segment of an attribute (no value: the `None` segment); with
tags it is in one segment per tag, so tag segments may add up to more than all customers.
The matrix reuses `funnel_math.step_matrix`: trials = reached the previous stage, reached = reached
this one, a Wilson interval on each rate, and cells with fewer trials than `min_sample` marked small.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, require
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.funnel_math import FunnelSegment, funnel_segments, step_matrix
from funnel.analytics.rollups import _furthest_ranks, _scoped, readers_filter
from funnel.core.clock import day_start_utc, next_day
from funnel.pipeline.stages import Pipeline, get_pipeline
from funnel.store.models import Customer, CustomerTag, ListItem, User

DIMENSIONS = ("channel", "campaign", "owner", "team", "region", "industry", "grade", "tag")
DEFAULT_DIMENSION = "channel"
# Below this many trials (customers who reached the previous stage) a cell is greyed: 3 of 5 says little.
DEFAULT_MIN_SAMPLE = 20
# How many customers a drill-down lists at most (the page says when there are more).
DRILL_LIMIT = 500
DRILL_OUTCOMES = ("reached", "dropped")

_S = TypeVar("_S", bound=Select)


def _check(dimension: str) -> None:
    if dimension not in DIMENSIONS:
        raise ValueError(f"cannot split by {dimension!r}; use one of {', '.join(DIMENSIONS)}")


def _tag_codes() -> Any:
    """(customer_id, code) of every tag on a customer: items of the managed list `tag`."""
    return (
        select(CustomerTag.customer_id.label("customer_id"), ListItem.code.label("code"))
        .join(ListItem, ListItem.id == CustomerTag.tag_id)
        .where(ListItem.list_name == "tag")
        .subquery()
    )


def with_segment(stmt: _S, dimension: str, filters: CustomerFilter | None) -> tuple[_S, ColumnElement[Any]]:
    """`stmt` (from Customer) joined to what `dimension` needs and filtered, and the segment column.

    The owner's segment is their display name, as in `report --by owner`.
    """
    _check(dimension)
    if dimension == "tag":
        tags = _tag_codes()
        stmt = stmt.outerjoin(tags, tags.c.customer_id == Customer.id)
        column: ColumnElement[Any] = tags.c.code
    elif dimension == "owner":
        column = func.coalesce(User.display_name, User.username)
    else:
        column = getattr(Customer, dimension)
    return _scoped(stmt, filters, by="owner" if dimension == "owner" else None), column


def segment_rollup(
    session: Session, *, dimension: str, filters: CustomerFilter | None, pipeline: Pipeline | None = None
) -> pd.DataFrame:
    """Customers per (segment, status, stage, furthest rank), the shape of `rollups.stage_rollup`."""
    pipeline = pipeline or get_pipeline()
    base = select(Customer.status, Customer.stage, Customer.furthest_stage).select_from(Customer)
    stmt, column = with_segment(base, dimension, filters)
    stmt = stmt.add_columns(column.label("segment"), func.count().label("customers"))
    stmt = stmt.group_by(column, Customer.status, Customer.stage, Customer.furthest_stage)
    rows = session.execute(stmt).all()
    frame = pd.DataFrame(rows, columns=["status", "stage", "furthest", "segment", "customers"])
    frame = frame[["segment", "status", "stage", "furthest", "customers"]]
    frame["customers"] = frame["customers"].astype("int64")
    frame["furthest"] = _furthest_ranks(frame["furthest"], pipeline)
    frame["segment"] = frame["segment"].astype("object").where(frame["segment"].notna(), None)
    # Amounts are not part of this view; the column keeps the frame foldable by funnel_segments.
    frame["won_amount"] = 0.0
    return frame


@dataclass(frozen=True)
class SegmentConversion:
    """Step conversion per segment: the funnels and their long-form matrix (one row per segment, stage)."""

    dimension: str
    stages: list[str]
    segments: list[FunnelSegment]
    matrix: pd.DataFrame
    min_sample: int


def conversion_by_segment(
    session: Session,
    *,
    actor: Actor,
    dimension: str = DEFAULT_DIMENSION,
    filters: CustomerFilter | None = None,
    min_sample: int = DEFAULT_MIN_SAMPLE,
    pipeline: Pipeline | None = None,
) -> SegmentConversion:
    """Each stage's step conversion per value of `dimension`, with its sample, Wilson interval, small flag."""
    _check(dimension)
    pipeline = pipeline or get_pipeline()
    filters = readers_filter(session, actor, filters)
    stages = pipeline.funnel_keys
    segments = funnel_segments(segment_rollup(session, dimension=dimension, filters=filters), stages)
    matrix = step_matrix(segments, min_sample=min_sample)
    # The segment without a value stays None (pandas would make it NaN), as in FunnelSegment.value.
    matrix["segment"] = matrix["segment"].astype("object").where(matrix["segment"].notna(), None)
    return SegmentConversion(
        dimension=dimension, stages=stages, segments=segments, matrix=matrix, min_sample=min_sample
    )


def _reached_condition(stage: str, pipeline: Pipeline) -> ColumnElement[bool]:
    """The customer's furthest stage is at or beyond `stage` (won counts as beyond every stage)."""
    keys = pipeline.funnel_keys
    return Customer.furthest_stage.in_(keys[keys.index(stage) :])


def drill_customers(
    session: Session,
    *,
    actor: Actor,
    dimension: str,
    value: str | None,
    stage: str,
    outcome: str = "reached",
    filters: CustomerFilter | None = None,
    limit: int = DRILL_LIMIT,
    pipeline: Pipeline | None = None,
) -> pd.DataFrame:
    """The customers behind one cell: of segment `value`, those who reached the stage before `stage` and
    then reached it ("reached") or did not ("dropped"). Newest first, at most `limit`."""
    if outcome not in DRILL_OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(DRILL_OUTCOMES)}")
    pipeline = pipeline or get_pipeline()
    require(actor, "customer.read")
    filters = readers_filter(session, actor, filters)
    keys = pipeline.funnel_keys
    rank = keys.index(stage)
    base = customer_list_select()
    stmt, column = with_segment(base, dimension, filters)
    stmt = stmt.where(column.is_(None) if value is None else column == value)
    if rank > 0:
        stmt = stmt.where(_reached_condition(keys[rank - 1], pipeline))
    reached = _reached_condition(stage, pipeline)
    stmt = stmt.where(reached if outcome == "reached" else ~reached)
    return customer_frame(session, stmt, limit=limit)


DRILL_COLUMNS = ["id", "customer_no", "name", "channel", "owner", "stage", "status", "created_at"]


def customer_list_select() -> Select[Any]:
    """The columns of a drill-down list; the owner by a sub-select, so any join for a segment still fits."""
    owner = select(User.username).where(User.id == Customer.owner_id).scalar_subquery()
    return select(
        Customer.id,
        Customer.customer_no,
        Customer.name,
        Customer.channel,
        owner.label("owner"),
        Customer.stage,
        Customer.status,
        Customer.created_at,
    ).select_from(Customer)


def customer_frame(session: Session, stmt: Select[Any], *, limit: int) -> pd.DataFrame:
    """Run a `customer_list_select` statement: newest first, at most `limit` rows, one row per customer."""
    stmt = stmt.distinct().order_by(Customer.created_at.desc(), Customer.id.desc()).limit(limit)
    return pd.DataFrame(session.execute(stmt).all(), columns=DRILL_COLUMNS)


def heatmap_frame(result: SegmentConversion, *, none_label: str = "(none)") -> pd.DataFrame:
    """The matrix without the first stage, segments labelled (None -> `none_label`), for a chart or table."""
    frame = result.matrix.copy()
    frame["value"] = frame["segment"]
    frame["segment"] = frame["segment"].where(frame["segment"].notna(), none_label)
    frame["step_conversion"] = frame["step_conversion"].astype("float64")
    return frame[frame["stage"] != result.stages[0]]


def filtered_customers(
    session: Session,
    *,
    actor: Actor,
    filters: CustomerFilter | None = None,
    created_between: tuple[date, date] | None = None,
    limit: int = DRILL_LIMIT,
) -> pd.DataFrame:
    """The customers `filters` selects (and, if given, created within the team's days [first, last])."""
    require(actor, "customer.read")
    filters = readers_filter(session, actor, filters)
    stmt = _scoped(customer_list_select(), filters)
    if created_between is not None:
        first, last = created_between
        stmt = stmt.where(
            Customer.created_at >= day_start_utc(first), Customer.created_at < day_start_utc(next_day(last))
        )
    return customer_frame(session, stmt, limit=limit)

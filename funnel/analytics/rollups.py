"""Funnel aggregations pushed down to SQL; each returns a small DataFrame."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import ColumnElement, Select, and_, case, exists, func, literal, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Scope
from funnel.core.clock import day_start_utc, next_day, team_zone
from funnel.pipeline.stages import LOST, WON, Pipeline, get_pipeline
from funnel.store.models import Contract, Customer, Objection, Opportunity, Payment, StageEvent, User

_S = TypeVar("_S", bound=Select)

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
    # Which customers the user may see (funnel.access.permissions.customer_scope); None means all.
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


def _segment_columns(by: str | None, dialect: str) -> list[ColumnElement[Any]]:
    """The GROUP BY column for a split, or none (PostgreSQL refuses to group by a constant)."""
    return [] if by is None else [_segment_column(by, dialect)]


def _utc_hour(dialect: str) -> ColumnElement[Any]:
    # Periods are the team's days and weeks: group by the UTC hour in SQL (at most 24 a day, so the
    # result stays small) and let pandas move each hour into the team's zone. Zones whose offset is
    # not whole hours (e.g. +05:30) can put the half hour around midnight in the neighbouring day.
    if dialect == "postgresql":
        return func.date_trunc("hour", Customer.created_at)
    return func.strftime("%Y-%m-%d %H:00:00", Customer.created_at)


def _segment_column(by: str, dialect: str) -> ColumnElement[Any]:
    if by == "owner":
        return func.coalesce(User.display_name, User.username).label("segment")
    if by in PERIOD_FIELDS:
        return _utc_hour(dialect).label("segment")
    if by in ATTRIBUTE_FIELDS:
        column: ColumnElement[Any] = getattr(Customer, by)
        return column.label("segment")
    raise ValueError(f"cannot split the funnel by {by!r}; use one of {', '.join(SEGMENT_FIELDS)}")


def _scoped(stmt: _S, filters: CustomerFilter | None) -> _S:
    stmt = stmt.outerjoin(User, User.id == Customer.owner_id)
    return stmt.where(and_(*filters.conditions())) if filters and filters.conditions() else stmt


def _furthest_rank(pipeline: Pipeline) -> ColumnElement[int]:
    """Per customer, the rank of the furthest stage in its history (won = len(stages)).

    Only a customer whose status is won has reached `won`: an old won event of a deal reopened since
    does not count (status is the truth for outcomes, the history for stages).
    """
    ranks = {key: i for i, key in enumerate(pipeline.keys)}
    rank_of_event = case(ranks, value=StageEvent.to_stage, else_=None)
    furthest_event = (
        select(func.max(rank_of_event)).where(StageEvent.customer_id == Customer.id).scalar_subquery()
    )
    rank_of_current = case(ranks, value=Customer.stage, else_=0)
    return case(
        (Customer.status == WON, len(pipeline.keys)),
        else_=func.coalesce(furthest_event, rank_of_current),
    )


def _deal_amount() -> ColumnElement[Any]:
    """What a customer is worth: signed contracts if any, else its opportunities."""
    signed = select(func.sum(Contract.amount)).where(Contract.customer_id == Customer.id).scalar_subquery()
    expected = (
        select(func.sum(Opportunity.amount)).where(Opportunity.customer_id == Customer.id).scalar_subquery()
    )
    return func.coalesce(signed, expected, 0)


def stage_rollup(
    session: Session,
    *,
    by: str | None = None,
    filters: CustomerFilter | None = None,
    pipeline: Pipeline | None = None,
) -> pd.DataFrame:
    """Customer counts and amounts per (segment, status, current stage, furthest rank)."""
    pipeline = pipeline or get_pipeline()
    segment = _segment_columns(by, session.get_bind().dialect.name)
    furthest = _furthest_rank(pipeline).label("furthest")
    amount = _deal_amount()
    stmt = select(
        *segment,
        Customer.status.label("status"),
        Customer.stage.label("stage"),
        furthest,
        func.count().label("customers"),
        func.sum(case((Customer.status == WON, amount), else_=0)).label("won_amount"),
    ).select_from(Customer)
    stmt = _scoped(stmt, filters).group_by(*segment, Customer.status, Customer.stage, furthest)
    columns = ["status", "stage", "furthest", "customers", "won_amount"]
    frame = pd.DataFrame(session.execute(stmt).all(), columns=(["segment"] if by else []) + columns)
    if by is None:
        frame.insert(0, "segment", None)
    frame["customers"] = frame["customers"].astype("int64")
    frame["furthest"] = frame["furthest"].astype("int64")
    frame["won_amount"] = frame["won_amount"].astype("float64")
    if by in PERIOD_FIELDS:
        frame["segment"] = _period_labels(frame["segment"], by)
    frame["segment"] = frame["segment"].astype("object").where(frame["segment"].notna(), None)
    return frame


def _period_labels(utc_hours: pd.Series, by: str) -> pd.Series:
    stamps = pd.to_datetime(utc_hours).dt.tz_localize(UTC).dt.tz_convert(team_zone())
    if by == "created_week":
        iso = stamps.dt.isocalendar()
        return iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    return stamps.dt.strftime("%Y-%m")


def loss_details(
    session: Session,
    *,
    by: str | None = None,
    filters: CustomerFilter | None = None,
) -> pd.DataFrame:
    """Lost reasons and objection categories counted per segment and stage where they happened."""
    segment = _segment_columns(by, session.get_bind().dialect.name)
    lost = select(
        *segment,
        Customer.stage.label("stage"),
        literal("lost_reason").label("kind"),
        func.coalesce(Customer.lost_reason, "").label("detail"),
        func.count().label("count"),
    ).select_from(Customer)
    lost = _scoped(lost, filters).where(Customer.status == LOST)
    lost = lost.group_by(*segment, Customer.stage, Customer.lost_reason)
    objections = (
        select(
            *segment,
            func.coalesce(Objection.stage, Customer.stage).label("stage"),
            literal("objection").label("kind"),
            Objection.category.label("detail"),
            func.count().label("count"),
        )
        .select_from(Objection)
        .join(Customer, Customer.id == Objection.customer_id)
    )
    objections = _scoped(objections, filters).group_by(
        *segment, func.coalesce(Objection.stage, Customer.stage), Objection.category
    )
    rows = [*session.execute(lost).all(), *session.execute(objections).all()]
    columns = ["stage", "kind", "detail", "count"]
    frame = pd.DataFrame(rows, columns=(["segment"] if by else []) + columns)
    if by is None:
        frame.insert(0, "segment", None)
    if by in PERIOD_FIELDS and not frame.empty:
        frame["segment"] = _period_labels(frame["segment"], by)
    return frame


ENTITY_STEPS = ("customers", "opportunities", "contracts", "payments")


def entity_funnel(session: Session, *, filters: CustomerFilter | None = None) -> pd.DataFrame:
    """The "data factory" join: customers -> with an opportunity -> with a contract -> with a payment."""
    has = {
        "opportunities": exists().where(Opportunity.customer_id == Customer.id),
        "contracts": exists().where(Contract.customer_id == Customer.id),
        "payments": exists().where(Payment.customer_id == Customer.id),
    }
    counts = select(
        func.count().label("customers"),
        *(func.sum(case((cond, 1), else_=0)).label(name) for name, cond in has.items()),
    ).select_from(Customer)
    row = session.execute(_scoped(counts, filters)).one()
    amounts = {}
    for name, model in (("opportunities", Opportunity), ("contracts", Contract), ("payments", Payment)):
        total = select(func.coalesce(func.sum(model.amount), 0)).select_from(model)
        total = total.join(Customer, Customer.id == model.customer_id)
        amounts[name] = float(session.execute(_scoped(total, filters)).scalar_one())
    return pd.DataFrame(
        {
            "step": list(ENTITY_STEPS),
            "customers": [int(row.customers or 0), *(int(getattr(row, n) or 0) for n in has)],
            "amount": [None, amounts["opportunities"], amounts["contracts"], amounts["payments"]],
        }
    )


def segment_values(session: Session, field_name: str, *, scope: Scope | None = None) -> list[str]:
    """Distinct values of an attribute among the customers in `scope` (owners by username), for filters."""
    if field_name == "owner":
        stmt = select(User.username).join(Customer, Customer.owner_id == User.id).distinct()
    elif field_name in ATTRIBUTE_FIELDS:
        column = getattr(Customer, field_name)
        stmt = select(column).where(column.is_not(None)).distinct()
    else:
        raise ValueError(f"unknown field {field_name!r}")
    if scope is not None:
        stmt = stmt.where(*scope.conditions())
    return sorted(str(v) for v in session.scalars(stmt) if v is not None)


def customer_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Customer)) or 0)

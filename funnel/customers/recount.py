"""Proof of the stored funnel state: recount every customer's furthest stage and outcome dates from
`stage_event` in SQL, report the differences, and (with `repair`) write the recount back.

The write path (funnel.customers.stages) keeps the stored columns; this is what
`python -m funnel check [--fix]` runs, and what the migration that added the columns used to fill them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, require
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.pipeline.stages import LOST, WON, Pipeline, get_pipeline
from funnel.store.models import Customer, StageEvent

_BATCH = 500


@dataclass(frozen=True)
class Difference:
    """One customer whose stored funnel state is not what its history says."""

    customer_id: int
    customer_no: str
    stored: tuple[str, datetime | None, datetime | None]  # furthest stage, won_at, lost_at
    expected: tuple[str, datetime | None, datetime | None]


def _recount_query(pipeline: Pipeline) -> Any:
    """Per customer: stored (furthest, won_at, lost_at) beside the recount from its stage events."""
    ranks = {key: i for i, key in enumerate(pipeline.keys)}
    history = (
        select(
            StageEvent.customer_id.label("customer_id"),
            func.max(case(ranks, value=StageEvent.to_stage, else_=None)).label("rank"),
            func.max(case((StageEvent.to_stage == WON, StageEvent.at), else_=None)).label("won_at"),
            func.max(case((StageEvent.to_stage == LOST, StageEvent.at), else_=None)).label("lost_at"),
        )
        .group_by(StageEvent.customer_id)
        .subquery()
    )
    # Without any pipeline stage in its history the current stage counts (funnel.pipeline.rules).
    rank = func.coalesce(history.c.rank, case(ranks, value=Customer.stage, else_=0))
    by_rank = case({i: key for key, i in ranks.items()}, value=rank, else_=pipeline.first)
    expected_furthest: ColumnElement[str] = case((Customer.status == WON, WON), else_=by_rank)
    expected_won = case((Customer.status == WON, history.c.won_at), else_=None)
    expected_lost = case((Customer.status == LOST, history.c.lost_at), else_=None)
    return select(
        Customer.id,
        Customer.customer_no,
        Customer.furthest_stage,
        Customer.won_at,
        Customer.lost_at,
        expected_furthest.label("expected_furthest"),
        expected_won.label("expected_won"),
        expected_lost.label("expected_lost"),
    ).outerjoin(history, history.c.customer_id == Customer.id), (
        expected_furthest,
        expected_won,
        expected_lost,
    )


def _differs(stored: Any, expected: ColumnElement[Any]) -> ColumnElement[bool]:
    return or_(
        and_(stored.is_(None), expected.is_not(None)),
        and_(stored.is_not(None), expected.is_(None)),
        stored != expected,
    )


def funnel_differences(
    session: Session, *, actor: Actor, pipeline: Pipeline | None = None, limit: int | None = None
) -> list[Difference]:
    """Every customer whose stored funnel state differs from a recount of its history (none: all good)."""
    require(actor, "analytics.read")
    stmt, (furthest, won, lost) = _recount_query(pipeline or get_pipeline())
    stmt = stmt.where(
        or_(
            _differs(Customer.furthest_stage, furthest),
            _differs(Customer.won_at, won),
            _differs(Customer.lost_at, lost),
        )
    ).order_by(Customer.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [
        Difference(row.id, row.customer_no, (row.furthest_stage, row.won_at, row.lost_at),
                   (row.expected_furthest, row.expected_won, row.expected_lost))
        for row in session.execute(stmt)
    ]  # fmt: skip


def repair_funnel_state(
    session: Session, *, actor: Actor, pipeline: Pipeline | None = None
) -> list[Difference]:
    """Write the recount over every differing customer (audited, without a new row version); returns them."""
    require(actor, "funnel.repair")
    found = funnel_differences(session, actor=actor, pipeline=pipeline)
    for start in range(0, len(found), _BATCH):
        for diff in found[start : start + _BATCH]:
            furthest, won_at, lost_at = diff.expected
            # A Core update: a repair is not a user's edit, so it must not make open forms stale.
            session.execute(
                update(Customer)
                .where(Customer.id == diff.customer_id)
                .values(furthest_stage=furthest, won_at=won_at, lost_at=lost_at, closed_at=won_at or lost_at)
                .execution_options(synchronize_session=False)
            )
            audit.record(
                session,
                action=AuditAction.FUNNEL_REPAIR,
                entity=AuditEntity.CUSTOMER,
                entity_id=diff.customer_id,
                customer_id=diff.customer_id,
                user_id=actor.user_id,
                changes=audit.diff(
                    dict(zip(("furthest_stage", "won_at", "lost_at"), diff.stored, strict=True)),
                    dict(zip(("furthest_stage", "won_at", "lost_at"), diff.expected, strict=True)),
                ),
            )
    return found

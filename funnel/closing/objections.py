"""Objections (异议), the managers' playbook of prepared answers, and the review statistics.

Categories are a managed list (`objection`), seeded with the defaults below on first use. The statistics
are counted in SQL (category x stage x resolved x the customer's outcome) and shaped by pure functions,
with the counts beside every share so that small numbers are not over-read.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, customer_scope, require
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.closing.common import clean_str, customer_for
from funnel.core.clock import utcnow
from funnel.core.db import take_write_lock
from funnel.core.errors import FieldError, NotFound, ValidationError
from funnel.customers.lists import ListValue, list_values, save_value
from funnel.pipeline.stages import get_pipeline
from funnel.store.models import Customer, Objection, PlaybookEntry

LIST_NAME = "objection"
# (code, English, Chinese): price, delivery worry, stability, nobody will use it, switching cost,
# internal process undecided, competitor, other.
DEFAULT_CATEGORIES = (
    ("price", "Price", "价格"),
    ("delivery", "Delivery worry", "交付顾虑"),
    ("stability", "Stability", "稳定性"),
    ("adoption", "Nobody will use it", "没人会用"),
    ("switching_cost", "Switching cost", "切换成本"),
    ("internal_process", "Internal process undecided", "内部流程未定"),
    ("competitor", "Competitor", "竞争对手"),
    ("other", "Other", "其他"),
)
OPEN, RESOLVED = "open", "resolved"


def categories(session: Session) -> list[ListValue]:
    """The objection categories (the managed list; the defaults are added the first time it is empty)."""
    values = list_values(session, LIST_NAME)
    if values or list_values(session, LIST_NAME, include_inactive=True):
        return values
    for order, (code, name_en, name_zh) in enumerate(DEFAULT_CATEGORIES):
        save_value(session, LIST_NAME, code=code, name_en=name_en, name_zh=name_zh, sort_order=order)
    return list_values(session, LIST_NAME)


def log_objection(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    category: str,
    words: object = None,
    response: object = None,
    resolved: bool = False,
    stage: str | None = None,
) -> Objection:
    """Record an objection on a customer the actor works, at `stage` (default: where the customer is)."""
    take_write_lock(session)
    customer = customer_for(session, actor, customer_id, "customer.edit")
    errors: list[FieldError] = []
    if category not in {value.code for value in categories(session)}:
        errors.append(FieldError("category", "closing.error.category_unknown", {"value": str(category)[:40]}))
    pipeline = get_pipeline()
    at_stage = stage or (customer.stage if customer.stage in pipeline.keys else customer.furthest_stage)
    if at_stage not in pipeline.keys:
        errors.append(FieldError("stage", "error.stage_unknown", {"value": str(at_stage)}))
    detail = clean_str("detail", words, errors, max_length=4000)
    answer = clean_str("response", response, errors, max_length=4000)
    if detail is None and not any(e.field == "detail" for e in errors):
        errors.append(FieldError("detail", "error.required"))
    if errors:
        raise ValidationError(errors)
    row = Objection(
        customer_id=customer.id,
        category=category,
        detail=detail,
        response=answer,
        stage=at_stage,
        status=RESOLVED if resolved else OPEN,
        by_user_id=actor.user_id,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        action=AuditAction.CREATE,
        entity=AuditEntity.OBJECTION,
        entity_id=row.id,
        customer_id=customer.id,
        user_id=actor.user_id,
        changes={"category": [None, category], "stage": [None, at_stage], "status": [None, row.status]},
    )
    return row


def set_resolved(
    session: Session, *, actor: Actor, objection_id: int, resolved: bool, response: object = None
) -> Objection:
    """Mark an objection resolved or open again, with the response given."""
    take_write_lock(session)
    row = session.get(Objection, objection_id)
    if row is None:
        raise NotFound("objection", objection_id)
    customer_for(session, actor, row.customer_id, "customer.edit")
    errors: list[FieldError] = []
    answer = clean_str("response", response, errors, max_length=4000)
    if errors:
        raise ValidationError(errors)
    before: dict[str, object] = {"status": row.status, "response": row.response}
    row.status = RESOLVED if resolved else OPEN
    if answer is not None:
        row.response = answer
    audit.record(
        session,
        action=AuditAction.UPDATE,
        entity=AuditEntity.OBJECTION,
        entity_id=row.id,
        customer_id=row.customer_id,
        user_id=actor.user_id,
        changes=audit.diff(before, {"status": row.status, "response": row.response}),
    )
    session.flush()
    return row


def set_playbook(session: Session, *, actor: Actor, category: str, answer: object) -> PlaybookEntry:
    """A manager writes the prepared answer for a category (提前准备好回答策略)."""
    take_write_lock(session)
    require(actor, "objection.playbook")
    errors: list[FieldError] = []
    if category not in {value.code for value in categories(session)}:
        errors.append(FieldError("category", "closing.error.category_unknown", {"value": str(category)[:40]}))
    text = clean_str("answer", answer, errors, max_length=8000)
    if text is None and not errors:
        errors.append(FieldError("answer", "error.required"))
    if errors:
        raise ValidationError(errors)
    assert text is not None
    entry = session.scalar(select(PlaybookEntry).where(PlaybookEntry.category == category))
    before = entry.answer if entry else None
    if entry is None:
        entry = PlaybookEntry(category=category, answer=text)
        session.add(entry)
    entry.answer, entry.updated_at, entry.by_user_id = text, utcnow(), actor.user_id
    session.flush()
    audit.record(
        session,
        action=AuditAction.UPDATE,
        entity=AuditEntity.PLAYBOOK,
        entity_id=entry.id,
        user_id=actor.user_id,
        changes={category: [before, text]},
    )
    return entry


def playbook(session: Session) -> dict[str, str]:
    """category -> the prepared answer (shown the moment a rep picks the category)."""
    return {
        category: answer
        for category, answer in session.execute(select(PlaybookEntry.category, PlaybookEntry.answer))
    }


def objection_counts(session: Session, *, actor: Actor) -> pd.DataFrame:
    """Objections of the customers `actor` may read, counted per category, stage, status and outcome."""
    require(actor, "analytics.read")
    stmt = (
        select(
            Objection.category,
            func.coalesce(Objection.stage, Customer.stage),
            Objection.status,
            Customer.status,
            func.count(),
        )
        .join(Customer, Customer.id == Objection.customer_id)
        .where(*customer_scope(session, actor).conditions())
        .group_by(
            Objection.category,
            func.coalesce(Objection.stage, Customer.stage),
            Objection.status,
            Customer.status,
        )
    )
    columns = ["category", "stage", "status", "outcome", "count"]
    frame = pd.DataFrame(session.execute(stmt).all(), columns=columns)
    frame["count"] = frame["count"].astype("int64")
    return frame


def by_category_stage(counts: pd.DataFrame, stages: list[str]) -> pd.DataFrame:
    """A category x stage table of objection counts (stages in pipeline order, zeros filled)."""
    table = counts.pivot_table(index="category", columns="stage", values="count", aggfunc="sum", fill_value=0)
    return table.reindex(
        columns=[s for s in stages if s in table.columns] + [c for c in table.columns if c not in stages]
    ).astype("int64")


def resolved_share(counts: pd.DataFrame) -> pd.DataFrame:
    """Per category: objections, resolved, and the share resolved."""
    totals = counts.groupby("category")["count"].sum()
    resolved = counts[counts["status"] == RESOLVED].groupby("category")["count"].sum()
    frame = pd.DataFrame({"objections": totals, "resolved": resolved.reindex(totals.index, fill_value=0)})
    frame["share_resolved"] = frame["resolved"] / frame["objections"]
    return frame.astype({"objections": "int64", "resolved": "int64"}).sort_values(
        "objections", ascending=False
    )


def before_outcomes(counts: pd.DataFrame) -> pd.DataFrame:
    """Per category: objections on customers later won, lost, still open; the share of the closed ones
    that were lost, with `closed` beside it so a share of 1 out of 2 reads as the small number it is."""
    table = counts.pivot_table(
        index="category", columns="outcome", values="count", aggfunc="sum", fill_value=0
    )
    for outcome in ("won", "lost", "open"):
        if outcome not in table.columns:
            table[outcome] = 0
    table = table[["won", "lost", "open"]].astype("int64")
    table["closed"] = table["won"] + table["lost"]
    table["share_lost"] = (table["lost"] / table["closed"]).where(table["closed"] > 0)
    return table.sort_values(["closed", "lost"], ascending=False)


def objections_table(session: Session, *, actor: Actor, customer_id: int) -> pd.DataFrame:
    """A customer's objections, newest first (for its page)."""
    customer_for(session, actor, customer_id, "customer.read")
    columns = ["id", "created_at", "category", "stage", "detail", "response", "status"]
    stmt = (
        select(*(getattr(Objection, name) for name in columns))
        .where(Objection.customer_id == customer_id)
        .order_by(Objection.created_at.desc(), Objection.id.desc())
    )
    return pd.DataFrame(session.execute(stmt).all(), columns=columns)

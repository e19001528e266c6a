"""The A/B/C grading page's query and writes: the facts that matter beside each customer, graded in bulk.

A = strong intent (a key customer, on the owner's daily list), B = in progress, C = long cycle. The
criteria shown on the page are items of the managed list `grade_criteria` (code A/B/C, the text per
language), so managers edit them like any list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, customer_scope, require, require_customer
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.core import events
from funnel.core.clock import utcnow
from funnel.core.db import get_by_id, take_write_lock
from funnel.core.errors import FieldError, NotFound, PermissionDenied, StaleEdit, ValidationError
from funnel.customers.fields import GRADES
from funnel.customers.lists import list_values, save_value
from funnel.customers.read import flush_edit
from funnel.store.models import Activity, Contact, Customer, User

CRITERIA_LIST = "grade_criteria"
DEFAULT_CRITERIA = {
    "A": (
        "Strong intent: budget and timeline confirmed, decision maker engaged",
        "意向强：预算与时间已确认，决策人已参与"),
    "B": ("In progress: needs clear, budget or timeline still open", "跟进中：需求明确，预算或时间待定"),
    "C": ("Long cycle: no budget or purchase beyond six months", "长周期：暂无预算或半年以上采购"),
}  # fmt: skip
GRADING_COLUMNS = ["id", "customer_no", "name", "company", "owner", "stage", "budget_range", "budget_amount",
                   "purchase_timeline",
                   "decision_maker_known", "last_activity", "score", "grade", "version"]  # fmt: skip


def grading_table(
    session: Session,
    *,
    actor: Actor,
    stage: str | None = "qualify",
    status: str | None = "open",
    grade: str | None = None,
    budget_band: str | None = None,
    timeline_until: str | None = None,
    competitor: str | None = None,
    limit: int = 500,
) -> pd.DataFrame:
    """The customers the actor sees (default: open ones in `qualify`) with their qualification facts."""
    require(actor, "customer.read")
    last_activity = (
        select(func.max(Activity.at))
        .where(Activity.customer_id == Customer.id)
        .correlate(Customer)
        .scalar_subquery()
    )
    decision_maker = exists().where(Contact.customer_id == Customer.id, Contact.is_decision_maker.is_(True))
    stmt = (
        select(
            Customer.id, Customer.customer_no, Customer.name, Customer.company,
            User.display_name.label("owner"),
            Customer.stage, Customer.budget_range, Customer.budget_amount, Customer.purchase_timeline,
            decision_maker.label("decision_maker_known"), last_activity.label("last_activity"),
            Customer.score,
            Customer.grade, Customer.version,
        )
        .outerjoin(User, User.id == Customer.owner_id)
        .where(*customer_scope(session, actor).conditions())
        .order_by(Customer.created_at.desc(), Customer.id.desc())
        .limit(limit)
    )  # fmt: skip
    if stage:
        stmt = stmt.where(Customer.stage == stage)
    if status:
        stmt = stmt.where(Customer.status == status)
    if grade:
        stmt = stmt.where(Customer.grade.is_(None) if grade == "-" else Customer.grade == grade)
    if budget_band:
        stmt = stmt.where(Customer.budget_range == budget_band)
    if timeline_until:
        stmt = stmt.where(Customer.purchase_timeline <= timeline_until)
    if competitor:
        stmt = stmt.where(Customer.competitors.contains(competitor))
    frame = pd.DataFrame(session.execute(stmt).all(), columns=GRADING_COLUMNS)
    frame["decision_maker_known"] = frame["decision_maker_known"].astype(bool)
    return frame


@dataclass
class GradeResult:
    """Which customers were graded, and which were not because someone changed them meanwhile."""

    graded: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)


def set_grade(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    grade: str | None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Customer:
    """Grade one customer A, B or C (None: none), audited; StaleEdit if changed since it was read."""
    take_write_lock(session)
    customer = get_by_id(session, Customer, customer_id)
    if customer is None:
        raise NotFound("customer", customer_id)
    require_customer(session, actor, customer, "customer.edit")
    value = (grade or "").strip().upper() or None
    if value is not None and value not in GRADES:
        raise ValidationError([FieldError("grade", "error.grade_invalid", {"value": str(grade)})])
    if expected_version is not None and customer.version != expected_version:
        raise StaleEdit(customer.customer_no)
    if customer.grade == value:
        return customer
    changes: dict[str, list[object]] = {"grade": [customer.grade, value]}
    customer.grade = value
    customer.graded_at = now or utcnow()
    audit.record(
        session, action=AuditAction.GRADE, entity=AuditEntity.CUSTOMER, entity_id=customer.id,
        customer_id=customer.id, user_id=actor.user_id, changes=changes,
    )  # fmt: skip
    flush_edit(session, customer)
    events.record(session, events.CustomerUpdated(customer.id, ("grade",)))
    return customer


def set_grades(session: Session, *, actor: Actor, changes: list[tuple[int, str | None, int]]) -> GradeResult:
    """Grade many (customer_id, grade, version read) at once; a row changed meanwhile is reported, not saved.

    Each row is saved in a savepoint, so one stale or refused row leaves the others graded.
    """
    result = GradeResult()
    for customer_id, grade, version in changes:
        try:
            with session.begin_nested():
                customer = set_grade(
                    session, actor=actor, customer_id=customer_id, grade=grade, expected_version=version
                )
                result.graded.append(customer.customer_no)
        except StaleEdit as exc:
            result.stale.append(exc.customer_no)
        except PermissionDenied:
            raise
    return result


def grade_criteria(session: Session, lang: str) -> dict[str, str]:
    """What each grade means, in `lang` (the managed list, else the defaults)."""
    stored = {v.code: v.label(lang) for v in list_values(session, CRITERIA_LIST)}
    return {g: stored.get(g) or DEFAULT_CRITERIA[g][1 if lang == "zh" else 0] for g in GRADES}


def save_grade_criteria(session: Session, *, actor: Actor, grade: str, text_en: str, text_zh: str) -> None:
    """A manager rewrites one grade's criteria (both languages; at most 100 characters each)."""
    require(actor, "customer.assign")  # managers and admins keep the team's rules
    if grade not in GRADES:
        raise ValidationError([FieldError("grade", "error.grade_invalid", {"value": grade})])
    save_value(
        session, CRITERIA_LIST, code=grade, name_en=text_en, name_zh=text_zh, sort_order=GRADES.index(grade)
    )

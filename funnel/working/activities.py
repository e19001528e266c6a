"""Logging what was said: a call, WeChat, SMS, e-mail, visit, meeting or note, with the template's fields.

The first contact-making activity of a lead still at the first stage moves it one stage on through the
one stage write path (funnel.customers.stages.move_stage), so `first_contacted_at`, the stage event and
the red flag follow the pipeline's one first-contact rule; the next step becomes a follow-up task in
the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, allowed, require_customer
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.core.clock import utcnow
from funnel.core.db import take_write_lock
from funnel.core.errors import FieldError, ValidationError
from funnel.customers.read import get_customer
from funnel.customers.stages import move_stage
from funnel.pipeline.stages import get_pipeline
from funnel.store.models import Activity, Customer, User
from funnel.working.tasks import create_task

KINDS = ("call", "wechat", "sms", "email", "visit", "meeting", "note")
# A note is written down, not said to the customer: it is no contact.
CONTACT_KINDS = frozenset(KINDS) - {"note"}
DIRECTIONS = ("in", "out")
TEXT_LIMITS = {"needs": 4000, "budget": 64, "concerns": 4000, "next_step": 300, "note": 4000}
# How far back an activity may be dated (a call log of last quarter), and how far ahead (clock skew).
MAX_BACKDATE = timedelta(days=366)
MAX_AHEAD = timedelta(minutes=10)


@dataclass(frozen=True)
class Logged:
    """What log_activity did: the activity, the follow-up task (if any), whether it was the first contact."""

    activity_id: int
    task_id: int | None
    first_contact: bool


def _text(name: str, raw: object, errors: list[FieldError]) -> str | None:
    if raw is None:
        return None
    value = str(raw).strip()
    if not value:
        return None
    if "\x00" in value:
        errors.append(FieldError(name, "error.invalid_characters"))
        return None
    limit = TEXT_LIMITS[name]
    if len(value) > limit:
        errors.append(FieldError(name, "error.too_long", {"max": str(limit), "length": str(len(value))}))
        return None
    return value


def log_activity(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    kind: str,
    at: datetime | None = None,
    needs: str | None = None,
    budget: str | None = None,
    concerns: str | None = None,
    next_step: str | None = None,
    next_step_due: datetime | None = None,
    note: str | None = None,
    direction: str | None = None,
    duration_s: int | None = None,
    source: str = "manual",
    sync_key: str | None = None,
    now: datetime | None = None,
) -> Logged:
    """Record one activity on a customer the actor may edit (audited); see the module for its effects."""
    take_write_lock(session)  # SQLite: read and write under one lock (see take_write_lock)
    customer = get_customer(session, actor=actor, customer_id=customer_id)
    require_customer(session, actor, customer, "customer.edit")
    now = now or utcnow()
    at = at or now
    errors: list[FieldError] = []
    if kind not in KINDS:
        errors.append(FieldError("kind", "act.error.kind", {"value": str(kind), "kinds": ", ".join(KINDS)}))
    if at > now + MAX_AHEAD:
        errors.append(FieldError("at", "act.error.future"))
    elif at < now - MAX_BACKDATE:
        errors.append(FieldError("at", "act.error.too_old"))
    if direction is not None and direction not in DIRECTIONS:
        errors.append(FieldError("direction", "act.error.direction", {"value": str(direction)}))
    if duration_s is not None and (duration_s < 0 or duration_s > 24 * 3600):
        errors.append(FieldError("duration_s", "act.error.duration", {"value": str(duration_s)}))
    values = {
        name: _text(name, raw, errors)
        for name, raw in (
            ("needs", needs), ("budget", budget), ("concerns", concerns), ("next_step", next_step),
            ("note", note),
        )
    }  # fmt: skip
    if values["next_step"] and next_step_due is None:
        errors.append(FieldError("next_step_due", "act.error.due_required"))
    if next_step_due is not None and not values["next_step"]:
        errors.append(FieldError("next_step", "act.error.next_step_required"))
    if next_step_due is not None and next_step_due < at:
        errors.append(FieldError("next_step_due", "act.error.due_before"))
    if kind in KINDS and not any(values.values()) and duration_s is None:
        errors.append(FieldError("note", "act.error.empty"))
    if errors:
        raise ValidationError(errors)
    activity = Activity(
        customer_id=customer.id,
        kind=kind,
        at=at,
        by_user_id=actor.user_id,
        summary=values["note"],
        needs=values["needs"],
        budget=values["budget"],
        concerns=values["concerns"],
        next_step=values["next_step"],
        next_step_at=next_step_due,
        direction=direction,
        duration_s=duration_s,
        source=source,
        sync_key=sync_key,
    )
    session.add(activity)
    session.flush()
    audit.record(
        session,
        action=AuditAction.ACTIVITY_LOG,
        entity=AuditEntity.ACTIVITY,
        entity_id=activity.id,
        customer_id=customer.id,
        user_id=actor.user_id,
        changes={"kind": [None, kind], "at": [None, at.isoformat()]},
    )
    first = _first_contact(session, customer, actor=actor, kind=kind, at=at, duration_s=duration_s)
    task_id = None
    if values["next_step"] and next_step_due is not None:
        task_id = _add_follow_up(
            session, actor=actor, customer=customer, title=values["next_step"], due_at=next_step_due,
            activity_id=activity.id,
        )  # fmt: skip
    return Logged(activity.id, task_id, first)


def _first_contact(
    session: Session, customer: Customer, *, actor: Actor, kind: str, at: datetime, duration_s: int | None
) -> bool:
    """The first real contact with an open lead at the first stage moves it on (the one stage write path).

    A missed call (0 seconds) or a note is no contact.
    """
    if kind not in CONTACT_KINDS or duration_s == 0:
        return False
    if customer.first_contacted_at is not None or customer.status != "open":
        return False
    pipeline = get_pipeline()
    if customer.stage == pipeline.first and len(pipeline.keys) > 1:
        move_stage(session, customer_id=customer.id, to_stage=pipeline.keys[1], actor=actor, at=at)
    else:
        # Past the first stage without a first contact (a lead imported mid-funnel): the contact is now.
        customer.first_contacted_at = at
        session.flush()
    return True


def _add_follow_up(
    session: Session, *, actor: Actor, customer: Customer, title: str, due_at: datetime, activity_id: int
) -> int:
    """The next step as a follow-up task, through the one task write path (funnel.working.tasks).

    It goes to the customer's owner when the actor may give it to them (the owner, a manager, the
    system), else to the actor (a colleague the customer is shared with plans their own follow-up).
    """
    owner_id = customer.owner_id
    if owner_id is None or (owner_id != actor.user_id and not allowed(actor, "customer.assign")):
        owner_id = actor.user_id
    task = create_task(
        session, actor=actor, title=title, due_at=due_at, customer_id=customer.id, kind="follow_up",
        owner_id=owner_id, rule="activity", rule_key=str(activity_id),
    )  # fmt: skip
    return task.id


ACTIVITY_COLUMNS = ["at", "kind", "by", "direction", "duration_s", "needs", "budget", "concerns", "next_step",
                    "next_step_at", "summary"]  # fmt: skip


def customer_activities(
    session: Session, *, actor: Actor, customer_id: int, limit: int = 200
) -> pd.DataFrame:
    """A customer's activities, newest first (permission-checked)."""
    customer = get_customer(session, actor=actor, customer_id=customer_id)
    stmt = (
        select(
            Activity.at, Activity.kind, User.display_name.label("by"),
            Activity.direction, Activity.duration_s,
            Activity.needs, Activity.budget, Activity.concerns, Activity.next_step, Activity.next_step_at,
            Activity.summary,
        )
        .outerjoin(User, User.id == Activity.by_user_id)
        .where(Activity.customer_id == customer.id)
        .order_by(Activity.at.desc(), Activity.id.desc())
        .limit(limit)
    )  # fmt: skip
    return pd.DataFrame(session.execute(stmt).all(), columns=ACTIVITY_COLUMNS)

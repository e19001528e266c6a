"""Tasks: follow-up plans with a due time, an owner and a kind; done, snoozed (presets) or reassigned.

A task is overdue when it is not done and its due time has passed. Every timestamp is naive UTC; the
snooze presets ("tomorrow", "in 3 days", "next Monday") are the start of the business day on the
team's clock. Other parts create follow-ups through `create_task` (an activity's next step, say).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from funnel.access.permissions import (
    Actor,
    allowed,
    assignee_error,
    can_see,
    managed_team,
    require,
    require_customer,
)
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.core.clock import utcnow
from funnel.core.db import get_by_id, take_write_lock
from funnel.core.errors import FieldError, NotFound, PermissionDenied, ValidationError
from funnel.core.settings import Settings, get_settings
from funnel.inbox.notify import notify
from funnel.store.models import Customer, Task, TimerFire, User

TASK_KINDS = ("follow_up", "call", "meeting", "email", "wechat", "visit", "other")
SNOOZE_PRESETS = ("tomorrow", "in_3_days", "next_monday")
# The timer rules that remind of a task; a snooze or a new owner makes them fire again.
TASK_RULES = ("task_due", "task_overdue")
TITLE_MAX = 300  # the column's length


@dataclass(frozen=True)
class TaskRow:
    """A task as lists show it, with its customer and owner by name."""

    id: int
    title: str
    kind: str
    due_at: datetime
    done_at: datetime | None
    owner_id: int | None
    owner: str | None
    customer_id: int | None
    customer_no: str | None
    customer_name: str | None
    overdue: bool


# ---- the quick presets


def _zone(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.timezone)


def preset_due(preset: str, now: datetime, settings: Settings | None = None) -> datetime:
    """The due time a preset means at `now` (naive UTC): the start of the business day on that team day."""
    settings = settings or get_settings()
    zone = _zone(settings)
    today = now.replace(tzinfo=UTC).astimezone(zone).date()
    if preset == "tomorrow":
        day = today + timedelta(days=1)
    elif preset == "in_3_days":
        day = today + timedelta(days=3)
    elif preset == "next_monday":
        day = today + timedelta(days=7 - today.weekday())  # on a Monday: the Monday after
    else:
        raise ValidationError([FieldError("preset", "task.error.preset", {"preset": preset})])
    return _start_of_day(day, settings, zone)


def _start_of_day(day: date, settings: Settings, zone: ZoneInfo) -> datetime:
    local = datetime.combine(day, time.min) + timedelta(hours=settings.business_hours_start)
    return local.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


# ---- checks


def _clean_title(raw: object, errors: list[FieldError]) -> str:
    title = str(raw or "").strip()
    if not title:
        errors.append(FieldError("title", "error.required"))
    elif "\x00" in title:
        errors.append(FieldError("title", "error.invalid_characters"))
    elif len(title) > TITLE_MAX:
        errors.append(
            FieldError("title", "error.too_long", {"max": str(TITLE_MAX), "length": str(len(title))})
        )
    return title


def _check_due(due_at: object, errors: list[FieldError]) -> datetime | None:
    if not isinstance(due_at, datetime):
        errors.append(FieldError("due_at", "error.required"))
        return None
    # Naive UTC like every stored time; an aware time is converted.
    return due_at.astimezone(UTC).replace(tzinfo=None) if due_at.tzinfo else due_at


def _owner_error(
    session: Session, actor: Actor, owner: User | None, customer: Customer | None
) -> FieldError | None:
    """Why `owner` may not own a task (on `customer`) given by `actor`; None if they may."""
    problem = assignee_error(actor, owner, field="owner_id")
    if problem is not None or owner is None:
        return problem
    if customer is not None and not can_see(session, Actor.of(owner), customer):
        return FieldError("owner_id", "task.error.owner_cannot_see", {"customer_no": customer.customer_no})
    return None


def _customer_for(session: Session, actor: Actor, customer_id: int, action: str) -> Customer:
    customer = get_by_id(session, Customer, customer_id)
    if customer is None:
        raise NotFound("customer", customer_id)
    require_customer(session, actor, customer, action)
    return customer


def _task_for(session: Session, actor: Actor, task_id: int) -> Task:
    """A task `actor` may change: their own, or (a manager, an admin, the system) one in their scope."""
    require(actor, "task.work")
    task = get_by_id(session, Task, task_id)
    if task is None:
        raise NotFound("task", task_id)
    if actor.user_id is not None and task.owner_id == actor.user_id:
        return task
    if not allowed(actor, "customer.assign"):
        raise PermissionDenied("task.work", f"task {task_id}")
    if task.customer_id is not None:
        _customer_for(session, actor, task.customer_id, "customer.assign")
    elif (team := managed_team(actor)) is not None:
        owner = session.get(User, task.owner_id) if task.owner_id else None
        if owner is None or owner.team != team:
            raise PermissionDenied("task.work", f"task {task_id}")
    return task


def _audit(
    session: Session, actor: Actor, task: Task, action: AuditAction, changes: dict[str, list[object]]
) -> None:
    audit.record(
        session,
        action=action,
        entity=AuditEntity.TASK,
        entity_id=task.id,
        customer_id=task.customer_id,
        user_id=actor.user_id,
        changes=changes,
    )


def _remind_again(session: Session, task_id: int) -> None:
    """Forget that the task's reminders fired, so they fire again for its new due time or owner."""
    session.execute(delete(TimerFire).where(TimerFire.rule.in_(TASK_RULES), TimerFire.subject_id == task_id))


# ---- use cases


def create_task(
    session: Session,
    *,
    actor: Actor,
    title: str,
    due_at: datetime | None,
    customer_id: int | None = None,
    kind: str = "follow_up",
    owner_id: int | None = None,
    rule: str | None = None,
    rule_key: str | None = None,
) -> Task:
    """Plan a follow-up; its owner is the actor unless a manager gives it to someone in their team.

    `rule` and `rule_key` name what made it (an activity's next step: "activity" and the activity's id).
    """
    require(actor, "task.work")
    take_write_lock(session)
    customer = _customer_for(session, actor, customer_id, "task.work") if customer_id is not None else None
    errors: list[FieldError] = []
    clean_title = _clean_title(title, errors)
    due = _check_due(due_at, errors)
    if kind not in TASK_KINDS:
        errors.append(FieldError("kind", "task.error.kind", {"kind": str(kind)}))
    if owner_id is None:
        owner_id = actor.user_id if actor.is_person else (customer.owner_id if customer else None)
    if owner_id is None:
        errors.append(FieldError("owner_id", "error.required"))
    elif owner_id != actor.user_id:
        if not allowed(actor, "customer.assign"):
            raise PermissionDenied("customer.assign")
        if problem := _owner_error(session, actor, get_by_id(session, User, owner_id), customer):
            errors.append(problem)
    if errors:
        raise ValidationError(errors)
    assert due is not None
    task = Task(
        customer_id=customer.id if customer else None,
        owner_id=owner_id,
        kind=kind,
        title=clean_title,
        due_at=due,
        rule=rule,
        rule_key=rule_key,
        created_at=utcnow(),
    )
    session.add(task)
    session.flush()
    changes: dict[str, list[object]] = {
        "task_title": [None, clean_title],
        "task_due_at": [None, due.isoformat()],
        "task_owner_id": [None, owner_id],
    }
    _audit(session, actor, task, AuditAction.CREATE, changes)
    if owner_id != actor.user_id:
        _tell_owner(session, task, customer)
    return task


def complete_task(session: Session, *, actor: Actor, task_id: int, now: datetime | None = None) -> Task:
    """Mark a task done (its owner, or a manager of it)."""
    take_write_lock(session)
    task = _task_for(session, actor, task_id)
    if task.done_at is not None:
        raise ValidationError([FieldError("form", "task.error.already_done", {"title": task.title})])
    task.done_at = now or utcnow()
    _audit(session, actor, task, AuditAction.UPDATE, {"task_done_at": [None, task.done_at.isoformat()]})
    session.flush()
    return task


def snooze_task(
    session: Session,
    *,
    actor: Actor,
    task_id: int,
    preset: str | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> Task:
    """Move an open task's due time to a preset ("tomorrow", "in_3_days", "next_monday") or to `until`."""
    take_write_lock(session)
    task = _task_for(session, actor, task_id)
    if task.done_at is not None:
        raise ValidationError([FieldError("form", "task.error.already_done", {"title": task.title})])
    now = now or utcnow()
    if preset is not None:
        due = preset_due(preset, now)
    else:
        errors: list[FieldError] = []
        checked = _check_due(until, errors)
        if errors or checked is None:
            raise ValidationError(errors)
        due = checked
    if due <= now:
        raise ValidationError([FieldError("due_at", "task.error.snooze_past")])
    before = task.due_at
    task.due_at = due
    _remind_again(session, task.id)
    _audit(session, actor, task, AuditAction.UPDATE, {"task_due_at": [before.isoformat(), due.isoformat()]})
    session.flush()
    return task


def reassign_task(session: Session, *, actor: Actor, task_id: int, owner_id: int) -> Task:
    """Give an open task to another user (its owner may hand it on; a manager within their team)."""
    take_write_lock(session)
    task = _task_for(session, actor, task_id)
    if task.done_at is not None:
        raise ValidationError([FieldError("form", "task.error.already_done", {"title": task.title})])
    if owner_id == task.owner_id:
        return task
    customer = session.get(Customer, task.customer_id) if task.customer_id else None
    if problem := _owner_error(session, actor, get_by_id(session, User, owner_id), customer):
        raise ValidationError([problem])
    before = task.owner_id
    task.owner_id = owner_id
    _remind_again(session, task.id)
    _audit(session, actor, task, AuditAction.ASSIGN, {"task_owner_id": [before, owner_id]})
    session.flush()
    _tell_owner(session, task, customer)
    return task


def _tell_owner(session: Session, task: Task, customer: Customer | None) -> None:
    assert task.owner_id is not None
    notify(
        session,
        user_id=task.owner_id,
        kind="task_assigned",
        params={"title": task.title, "customer_no": customer.customer_no if customer else ""},
        customer_id=task.customer_id,
    )


# ---- reads


def task_owners(session: Session, *, actor: Actor, customer_id: int | None = None) -> list[tuple[int, str]]:
    """(id, name) of the users `actor` may give a task to (on `customer_id`): themselves, or for a
    manager the active users of their team who work customers (and may see the customer)."""
    require(actor, "task.work")
    customer = _customer_for(session, actor, customer_id, "task.work") if customer_id is not None else None
    if not allowed(actor, "customer.assign"):
        user = get_by_id(session, User, actor.user_id) if actor.user_id else None
        return [(user.id, user.display_name)] if user else []
    users = session.scalars(select(User).where(User.is_active.is_(True)).order_by(User.display_name, User.id))
    return [(u.id, u.display_name) for u in users if _owner_error(session, actor, u, customer) is None]


def _rows(
    session: Session, where: Sequence[ColumnElement[bool]], now: datetime, *, limit: int
) -> list[TaskRow]:
    owner = User.__table__.alias("task_owner")
    stmt = (
        select(
            Task.id,
            Task.title,
            Task.kind,
            Task.due_at,
            Task.done_at,
            Task.owner_id,
            owner.c.display_name,
            Task.customer_id,
            Customer.customer_no,
            Customer.name,
        )
        .outerjoin(owner, owner.c.id == Task.owner_id)
        .outerjoin(Customer, Customer.id == Task.customer_id)
        .where(*where)
        .order_by(Task.done_at.is_not(None), Task.due_at, Task.id)
        .limit(limit)
    )
    return [
        TaskRow(
            id=row[0],
            title=row[1],
            kind=row[2],
            due_at=row[3],
            done_at=row[4],
            owner_id=row[5],
            owner=row[6],
            customer_id=row[7],
            customer_no=row[8],
            customer_name=row[9],
            overdue=row[4] is None and row[3] < now,
        )
        for row in session.execute(stmt)
    ]


def customer_tasks(
    session: Session, *, actor: Actor, customer_id: int, now: datetime | None = None, limit: int = 200
) -> list[TaskRow]:
    """A customer's tasks: open ones first by due time, then the done ones."""
    _customer_for(session, actor, customer_id, "customer.read")
    return _rows(session, [Task.customer_id == customer_id], now or utcnow(), limit=limit)


def open_tasks_of(
    session: Session, *, actor: Actor, due_before: datetime, now: datetime | None = None, limit: int = 500
) -> list[TaskRow]:
    """The actor's own open tasks due before `due_before` (My day: overdue and due today)."""
    require(actor, "task.work")
    if actor.user_id is None:
        return []
    where = [Task.owner_id == actor.user_id, Task.done_at.is_(None), Task.due_at < due_before]
    return _rows(session, where, now or utcnow(), limit=limit)

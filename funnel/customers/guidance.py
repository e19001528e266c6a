"""The customer page's guide: the stage path, the stage's guidance, red flags and the suggested next step.

Read in one go for one customer; the page only renders it. The exit criteria come from the pipeline file
(funnel/pipeline/pipeline.toml, [stage.guidance]); funnel/pipeline/rules.check_move enforces them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.core.clock import utcnow
from funnel.customers.read import first_contact_overdue, get_customer
from funnel.customers.stages import customer_values
from funnel.pipeline.rules import OPEN, missing_exit_fields
from funnel.pipeline.stages import WON, Guidance, Pipeline, get_pipeline
from funnel.store.models import (
    Activity,
    AuditLog,
    Contract,
    Customer,
    Document,
    Meeting,
    Objection,
    Payment,
    Quote,
    StageEvent,
    Survey,
    Task,
    User,
)


@dataclass(frozen=True)
class PathStep:
    """One stage of the path: when the customer last got there, and whether it stands there now."""

    key: str
    reached_at: datetime | None
    reached: bool
    current: bool


@dataclass(frozen=True)
class NextStep:
    """A suggestion: a message key (`next.<kind>`) and its parameters."""

    kind: str
    params: dict[str, str] = field(default_factory=dict)


# A red flag a higher layer raises (closing: quote idle, proposal feedback due, instalment overdue):
# `check(session, customer_id, now)` says whether it is up. Registered through register_red_flag (from
# funnel.integrations.handlers.install_handlers), since customers sit below closing and cannot import it.
RedFlagCheck = Callable[[Session, int, datetime], bool]
_red_flag_checks: dict[str, RedFlagCheck] = {}


def register_red_flag(key: str, check: RedFlagCheck) -> None:
    """Add a red flag (message key `flag.<kind>`) shown when `check` holds; registered again: replaced."""
    if not key.startswith("flag."):
        raise ValueError(f"a red flag's message key starts with 'flag.', got {key!r}")
    _red_flag_checks[key] = check


@dataclass(frozen=True)
class StageGuide:
    path: tuple[PathStep, ...]
    stage: str
    days_in_stage: int | None  # since the last move into the current stage
    guidance: Guidance
    missing_fields: tuple[str, ...]  # exit fields of the current stage still empty
    overdue_tasks: tuple[str, ...]  # titles of open tasks past due
    red_flags: tuple[str, ...]  # message keys `flag.<kind>`
    next_steps: tuple[NextStep, ...]


def stage_guide(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    pipeline: Pipeline | None = None,
    now: datetime | None = None,
) -> StageGuide:
    """The guide for one customer the actor may read."""
    pipeline = pipeline or get_pipeline()
    now = now or utcnow()
    customer = get_customer(session, actor=actor, customer_id=customer_id)
    events = session.execute(
        select(StageEvent.to_stage, StageEvent.at)
        .where(StageEvent.customer_id == customer.id)
        .order_by(StageEvent.at, StageEvent.id)
    ).all()
    last_at: dict[str, datetime] = {}
    for key, at in events:
        last_at[key] = at
    furthest = customer.furthest_stage
    furthest_rank = pipeline.rank(furthest) if furthest in pipeline.funnel_keys else 0
    current = customer.stage if customer.status == OPEN else customer.status
    path = tuple(
        PathStep(
            key=key,
            reached_at=last_at.get(key),
            reached=pipeline.rank(key) <= furthest_rank,
            current=key == current,
        )
        for key in pipeline.funnel_keys
    )
    entered = last_at.get(current)
    days = (now - entered).days if entered is not None else None
    stage = customer.stage if customer.stage in pipeline.keys else pipeline.keys[-1]
    guidance = pipeline.get(stage).guidance
    missing: tuple[str, ...] = ()
    if customer.status == OPEN:
        missing = tuple(missing_exit_fields(pipeline, stage=stage, values=customer_values(customer)))
    overdue = tuple(
        session.scalars(
            select(Task.title)
            .where(Task.customer_id == customer.id, Task.done_at.is_(None), Task.due_at < now)
            .order_by(Task.due_at)
        )
    )
    late = bool(session.scalar(select(first_contact_overdue(now)).where(Customer.id == customer.id)))
    flags = tuple(
        kind
        for kind, on in (("flag.first_contact_overdue", late), ("flag.task_overdue", bool(overdue)))
        if on
    ) + tuple(key for key, check in _red_flag_checks.items() if check(session, customer.id, now))
    steps: list[NextStep] = [NextStep("next.task_overdue", {"task": title}) for title in overdue[:3]]
    if late:
        steps.insert(0, NextStep("next.first_contact"))
    steps += [NextStep("next.fill_field", {"field": name}) for name in missing]
    if not steps and customer.status == OPEN and current != WON:
        steps += [NextStep("next.action", {"index": str(i)}) for i in range(len(guidance.actions[:1]))]
    return StageGuide(
        path=path,
        stage=stage,
        days_in_stage=days,
        guidance=guidance,
        missing_fields=missing,
        overdue_tasks=overdue,
        red_flags=flags,
        next_steps=tuple(steps),
    )


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to a customer: when, what kind, who, and a short text."""

    at: datetime
    kind: str  # activity | stage | task | task_done | audit action (assign, update, contact_add, ...)
    who: str | None
    text: str


def customer_activities(session: Session, *, actor: Actor, customer_id: int) -> list[TimelineEntry]:
    """The customer's activities, newest first (read-only list until the activity section replaces it)."""
    get_customer(session, actor=actor, customer_id=customer_id)
    rows = session.execute(
        select(Activity.at, Activity.kind, User.display_name, Activity.summary)
        .outerjoin(User, User.id == Activity.by_user_id)
        .where(Activity.customer_id == customer_id)
        .order_by(Activity.at.desc(), Activity.id.desc())
    ).all()
    return [TimelineEntry(at, kind, who, summary or "") for at, kind, who, summary in rows]


def customer_tasks(
    session: Session, *, actor: Actor, customer_id: int
) -> list[tuple[str, datetime, datetime | None]]:
    """The customer's tasks as (title, due, done), open ones first, then by due time."""
    get_customer(session, actor=actor, customer_id=customer_id)
    rows = session.execute(
        select(Task.title, Task.due_at, Task.done_at)
        .where(Task.customer_id == customer_id)
        .order_by(Task.done_at.is_not(None), Task.due_at)
    ).all()
    return [(title, due, done) for title, due, done in rows]


TIMELINE_AUDIT = ("assign", "update", "share", "unshare", "contact_add", "contact_edit", "contact_remove")


def customer_timeline(session: Session, *, actor: Actor, customer_id: int) -> list[TimelineEntry]:
    """Everything that happened to a customer, newest first: activities, stage moves, tasks, edits."""
    entries = customer_activities(session, actor=actor, customer_id=customer_id)
    for at, to_stage, who in session.execute(
        select(StageEvent.at, StageEvent.to_stage, User.display_name)
        .outerjoin(User, User.id == StageEvent.by_user_id)
        .where(StageEvent.customer_id == customer_id)
    ):
        entries.append(TimelineEntry(at, "stage", who, to_stage))
    for title, created, done in session.execute(
        select(Task.title, Task.created_at, Task.done_at).where(Task.customer_id == customer_id)
    ):
        entries.append(TimelineEntry(created, "task", None, title))
        if done is not None:
            entries.append(TimelineEntry(done, "task_done", None, title))
    for at, action, who, changes in session.execute(
        select(AuditLog.at, AuditLog.action, User.display_name, AuditLog.changes)
        .outerjoin(User, User.id == AuditLog.user_id)
        .where(AuditLog.customer_id == customer_id, AuditLog.action.in_(TIMELINE_AUDIT))
    ):
        entries.append(TimelineEntry(at, action, who, ", ".join(sorted(changes or {}))))
    entries.extend(_closing_entries(session, customer_id))
    return sorted(entries, key=lambda e: e.at, reverse=True)


def _money(amount: object) -> str:
    return f"{float(str(amount)):,.2f}" if amount is not None else "—"


def _closing_entries(session: Session, customer_id: int) -> list[TimelineEntry]:
    """Meetings, objections, files, quotes, contracts, payments and survey answers of one customer."""
    who = User.display_name
    found: list[TimelineEntry] = []
    for at, kind, name, minutes, feedback in session.execute(
        select(Meeting.at, Meeting.kind, who, Meeting.minutes, Meeting.feedback)
        .outerjoin(User, User.id == Meeting.by_user_id)
        .where(Meeting.customer_id == customer_id)
    ):
        text = " · ".join(part for part in (minutes, feedback) if part)
        found.append(TimelineEntry(at, kind if kind in ("meeting", "demo") else "meeting", name, text))
    for at, name, category, detail in session.execute(
        select(Objection.created_at, who, Objection.category, Objection.detail)
        .outerjoin(User, User.id == Objection.by_user_id)
        .where(Objection.customer_id == customer_id)
    ):
        found.append(TimelineEntry(at, "objection", name, " · ".join(p for p in (category, detail) if p)))
    for at, name, filename, kind in session.execute(
        select(Document.uploaded_at, who, Document.filename, Document.kind)
        .outerjoin(User, User.id == Document.by_user_id)
        .where(Document.customer_id == customer_id)
    ):
        found.append(TimelineEntry(at, "document", name, f"{filename} ({kind})"))
    for at, name, amount, concessions in session.execute(
        select(Quote.created_at, who, Quote.amount, Quote.concessions)
        .outerjoin(User, User.id == Quote.by_user_id)
        .where(Quote.customer_id == customer_id)
    ):
        found.append(
            TimelineEntry(at, "quote", name, " · ".join(p for p in (_money(amount), concessions) if p))
        )
    for at, name, number, amount, status, decided in session.execute(
        select(
            Contract.created_at,
            who,
            Contract.contract_no,
            Contract.amount,
            Contract.status,
            Contract.decided_at,
        )
        .outerjoin(User, User.id == Contract.by_user_id)
        .where(Contract.customer_id == customer_id)
    ):
        label = " · ".join(p for p in (number, _money(amount)) if p)
        found.append(TimelineEntry(at, "contract", name, label))
        if decided is not None and status in ("signed", "rejected"):
            found.append(TimelineEntry(decided, f"contract_{status}", None, label))
    for at, name, amount, received in session.execute(
        select(Payment.created_at, who, Payment.amount, Payment.received_on)
        .outerjoin(User, User.id == Payment.by_user_id)
        .where(Payment.customer_id == customer_id)
    ):
        found.append(TimelineEntry(at, "payment", name, f"{_money(amount)} ({received.isoformat()})"))
    for answered, rating, score in session.execute(
        select(Survey.answered_at, Survey.rating, Survey.recommend).where(
            Survey.customer_id == customer_id, Survey.answered_at.is_not(None)
        )
    ):
        if answered is not None:
            found.append(TimelineEntry(answered, "survey", None, f"{rating}/5 · {score}/10"))
    return found

"""My day: what a user must do today, and for a manager how the team keeps time.

A user's day: overdue tasks, tasks due today, leads waiting for a first contact with the time left, the
A list, unread notifications. A manager's team: per rep the first-contact SLA breaches (the leads the
timers flagged), the median speed to lead, overdue tasks and leads waiting for a first contact.
Every list is one indexed query bounded by a limit; the medians are computed in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import ColumnElement, extract, func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, allowed, managed_team, require
from funnel.core.clock import utcnow
from funnel.core.settings import Settings, get_settings
from funnel.inbox.notify import InboxItem, inbox
from funnel.store.models import Customer, Task, TimerFire, User
from funnel.timers.deadline import first_contact_deadline
from funnel.timers.rules import FIRST_CONTACT_OVERDUE
from funnel.working.tasks import TaskRow, open_tasks_of

LIMIT = 200
TEAM_DAYS = 30  # the team view reads the leads created in this many days
SELLERS = ("rep", "manager")  # the roles whose speed to lead a manager reads


@dataclass(frozen=True)
class PendingContact:
    """A lead of the user's waiting for its first contact; `time_left` is negative once overdue."""

    customer_id: int
    customer_no: str
    name: str
    created_at: datetime
    deadline: datetime
    time_left: timedelta

    @property
    def overdue(self) -> bool:
        return self.time_left < timedelta(0)


@dataclass(frozen=True)
class ListedCustomer:
    customer_id: int
    customer_no: str
    name: str
    company: str | None
    stage: str


@dataclass(frozen=True)
class MyDay:
    overdue: list[TaskRow]
    due_today: list[TaskRow]
    first_contacts: list[PendingContact]
    a_list: list[ListedCustomer]
    unread: list[InboxItem]


def team_day_end(now: datetime, settings: Settings) -> datetime:
    """The end of the team's day that holds `now`, as naive UTC."""
    zone = ZoneInfo(settings.timezone)
    local_day = now.replace(tzinfo=UTC).astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(local_day, time.min, tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def my_day(
    session: Session,
    *,
    actor: Actor,
    lang: str,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> MyDay:
    """The actor's own day (every role that reads customers; one without tasks or leads sees it empty)."""
    require(actor, "customer.read")
    now, settings = now or utcnow(), settings or get_settings()
    if actor.user_id is None:
        return MyDay([], [], [], [], [])
    due_before = team_day_end(now, settings)
    # A role without tasks (delivery, leadership) has an empty task list, not a refusal.
    tasks = (
        open_tasks_of(session, actor=actor, due_before=due_before, now=now, limit=LIMIT)
        if allowed(actor, "task.work")
        else []
    )
    mine = (Customer.owner_id == actor.user_id, Customer.status == "open")
    waiting = session.execute(
        select(Customer.id, Customer.customer_no, Customer.name, Customer.created_at)
        .where(
            *mine,
            Customer.first_contacted_at.is_(None),
            Customer.created_at >= now - timedelta(days=settings.timer_lookback_days),
        )
        .order_by(Customer.created_at, Customer.id)
        .limit(LIMIT)
    ).all()
    pending = []
    for cid, number, name, created in waiting:
        deadline = first_contact_deadline(created, settings)
        pending.append(PendingContact(cid, number, name, created, deadline, deadline - now))
    a_list = session.execute(
        select(Customer.id, Customer.customer_no, Customer.name, Customer.company, Customer.stage)
        .where(*mine, Customer.grade == "A")
        .order_by(Customer.customer_no)
        .limit(LIMIT)
    ).all()
    return MyDay(
        overdue=[t for t in tasks if t.overdue],
        due_today=[t for t in tasks if not t.overdue],
        first_contacts=pending,
        a_list=[ListedCustomer(*row) for row in a_list],
        unread=inbox(session, actor.user_id, lang=lang, unread_only=True, limit=LIMIT),
    )


TEAM_COLUMNS = [
    "rep_id",
    "rep",
    "sla_breaches",
    "waiting",
    "contacted",
    "median_minutes_to_contact",
    "overdue_tasks",
]


def _minutes(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return extract("epoch", end - start) / 60.0
    return (func.julianday(end) - func.julianday(start)) * 1440.0


def team_day(
    session: Session, *, actor: Actor, now: datetime | None = None, days: int = TEAM_DAYS
) -> pd.DataFrame:
    """Per rep of the manager's team (every rep for a manager without a team or an admin), over the leads
    created in the last `days`: SLA breaches, leads still waiting, contacted ones and the median minutes
    from creation to first contact; and their overdue tasks now."""
    require(actor, "customer.assign")
    now = now or utcnow()
    since = now - timedelta(days=days)
    reps_query = select(User.id, User.display_name).where(User.is_active.is_(True), User.role.in_(SELLERS))
    if (team := managed_team(actor)) is not None:
        reps_query = reps_query.where(User.team == team)
    reps = session.execute(reps_query.order_by(User.display_name, User.id)).all()
    frame = pd.DataFrame(reps, columns=["rep_id", "rep"])
    if frame.empty:
        return pd.DataFrame(columns=TEAM_COLUMNS)
    ids = [int(i) for i in frame["rep_id"]]
    recent = (Customer.owner_id.in_(ids), Customer.created_at >= since)

    breaches = dict(
        session.execute(
            select(Customer.owner_id, func.count())
            .join(
                TimerFire, (TimerFire.subject_id == Customer.id) & (TimerFire.rule == FIRST_CONTACT_OVERDUE)
            )
            .where(*recent, TimerFire.period == "")
            .group_by(Customer.owner_id)
        ).all()
    )
    waiting = dict(
        session.execute(
            select(Customer.owner_id, func.count())
            .where(*recent, Customer.status == "open", Customer.first_contacted_at.is_(None))
            .group_by(Customer.owner_id)
        ).all()
    )
    # The median in SQL on both backends: number each rep's contact times in order, average the middle one(s).
    minutes = _minutes(session, Customer.created_at, Customer.first_contacted_at).label("minutes")
    ranked = (
        select(
            Customer.owner_id.label("owner_id"),
            minutes,
            func.row_number().over(partition_by=Customer.owner_id, order_by=minutes).label("position"),
            func.count().over(partition_by=Customer.owner_id).label("contacted"),
        )
        .where(*recent, Customer.first_contacted_at.is_not(None))
        .subquery()
    )
    middle = [(ranked.c.contacted + 1) // 2, (ranked.c.contacted + 2) // 2]  # one row when odd, two when even
    speed = {
        owner: (int(contacted), float(median))
        for owner, contacted, median in session.execute(
            select(ranked.c.owner_id, func.max(ranked.c.contacted), func.avg(ranked.c.minutes))
            .where(ranked.c.position.in_(middle))
            .group_by(ranked.c.owner_id)
        ).all()
    }
    overdue = dict(
        session.execute(
            select(Task.owner_id, func.count())
            .where(Task.owner_id.in_(ids), Task.done_at.is_(None), Task.due_at < now)
            .group_by(Task.owner_id)
        ).all()
    )
    frame["sla_breaches"] = [breaches.get(i, 0) for i in ids]
    frame["waiting"] = [waiting.get(i, 0) for i in ids]
    frame["contacted"] = [speed.get(i, (0, None))[0] for i in ids]
    frame["median_minutes_to_contact"] = [speed.get(i, (0, None))[1] for i in ids]
    frame["overdue_tasks"] = [overdue.get(i, 0) for i in ids]
    return frame[TEAM_COLUMNS]

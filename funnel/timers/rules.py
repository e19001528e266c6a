"""The timer rules. Each finds in SQL the subjects newly due at `now`, claims them in timer_fire and
tells whoever must know, all in the caller's transaction.

A claim is an insert-if-absent on timer_fire's unique key (rule, period, subject): what another run
claimed first (or concurrently: PostgreSQL makes the second insert wait for the first's commit) is
skipped, so a subject fires once per rule and period however often and however concurrently the
timers run. Every query is an index range bounded by `timer_lookback_days` and the anti-join on
timer_fire, never a pass over every customer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, delete, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from funnel.core.clock import utcnow
from funnel.core.settings import Settings
from funnel.inbox.notify import notify
from funnel.store.models import Customer, Task, TimerFire, User
from funnel.timers.deadline import first_contact_overdue_sql

FIRST_CONTACT_OVERDUE = "first_contact_overdue"
FIRST_CONTACT_ESCALATED = "first_contact_escalated"
A_DAILY = "a_daily"
TASK_DUE = "task_due"
TASK_OVERDUE = "task_overdue"
CHUNK = 500  # rows per statement: well inside SQLite's limit of bound parameters
A_DAILY_KEPT_DAYS = 7  # a day's A-list markers are needed only that day; older ones are removed


@dataclass(frozen=True)
class Rule:
    """A named rule: `fire(session, now, settings)` returns how many subjects it newly flagged."""

    name: str
    fire: Callable[[Session, datetime, Settings], int]


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def not_fired(rule: str, subject: Any, period: str = "") -> ColumnElement[bool]:
    """SQL: `subject` has no marker for `rule` in `period` yet."""
    return ~exists().where(
        TimerFire.rule == rule, TimerFire.period == period, TimerFire.subject_id == subject
    )


def claim(session: Session, rule: str, subject_ids: Iterable[int], *, period: str = "") -> list[int]:
    """Mark `rule` fired for each subject in `period`; returns the subjects this call marked, in order.

    Subjects are inserted in id order, so two concurrent runs lock the same keys in the same order.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    fired_at = utcnow()
    claimed: list[int] = []
    for chunk in _chunks(sorted(set(subject_ids))):
        rows = [{"rule": rule, "period": period, "subject_id": sid, "fired_at": fired_at} for sid in chunk]
        stmt = (
            insert(TimerFire)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["rule", "period", "subject_id"])
            .returning(TimerFire.subject_id)
        )
        claimed += session.scalars(stmt).all()
    return sorted(claimed)


def _local(now: datetime, settings: Settings) -> datetime:
    return now.replace(tzinfo=UTC).astimezone(ZoneInfo(settings.timezone))


def _shown(value: datetime, settings: Settings) -> str:
    """A stored time on the team's clock, for a message."""
    return f"{_local(value, settings):%Y-%m-%d %H:%M}"


class TeamManagers:
    """The active managers of a team (or, for no team or a team without one, those who see every team)."""

    def __init__(self, session: Session):
        self.session = session
        self.cache: dict[str | None, list[int]] = {}

    def _ids(self, team: str | None) -> list[int]:
        condition = User.team == team if team is not None else User.team.is_(None)
        stmt = select(User.id).where(User.role == "manager", User.is_active.is_(True), condition)
        return list(self.session.scalars(stmt.order_by(User.id)))

    def of(self, team: str | None) -> list[int]:
        if team not in self.cache:
            self.cache[team] = (self._ids(team) if team is not None else []) or self._ids(None)
        return self.cache[team]

    def owner_or_managers(self, owner_id: int | None, team: str | None) -> list[int]:
        """Who is told about a customer: its owner, or for an unowned one its team's managers."""
        return [owner_id] if owner_id else self.of(team)


def customers_of(session: Session, ids: Sequence[int]) -> list[Any]:
    """(id, customer_no, name, owner_id, team of the owner or else of the customer) of `ids`."""
    rows: list[Any] = []
    for chunk in _chunks(ids):
        stmt = (
            select(
                Customer.id,
                Customer.customer_no,
                Customer.name,
                Customer.owner_id,
                func.coalesce(User.team, Customer.team).label("team"),
            )
            .outerjoin(User, User.id == Customer.owner_id)
            .where(Customer.id.in_(chunk))
            .order_by(Customer.id)
        )
        rows += session.execute(stmt).all()
    return rows


def _uncontacted_overdue(
    session: Session, now: datetime, settings: Settings, rule: str, extra_hours: int
) -> list[int]:
    since = now - timedelta(days=settings.timer_lookback_days)
    stmt = select(Customer.id).where(
        first_contact_overdue_sql(now, settings, extra_hours=extra_hours),
        Customer.created_at >= since,
        not_fired(rule, Customer.id),
    )
    return list(session.scalars(stmt))


def fire_first_contact_overdue(session: Session, now: datetime, settings: Settings) -> int:
    """Open leads past their first-contact deadline: the owner is told (an unowned lead's managers)."""
    claimed = claim(
        session, FIRST_CONTACT_OVERDUE, _uncontacted_overdue(session, now, settings, FIRST_CONTACT_OVERDUE, 0)
    )
    managers = TeamManagers(session)
    for cid, number, name, owner_id, team in customers_of(session, claimed):
        for user_id in managers.owner_or_managers(owner_id, team):
            notify(
                session,
                user_id=user_id,
                kind=FIRST_CONTACT_OVERDUE,
                params={"customer_no": number, "name": name, "hours": settings.first_contact_sla_hours},
                customer_id=cid,
            )
    return len(claimed)


def fire_first_contact_escalated(session: Session, now: datetime, settings: Settings) -> int:
    """Still not contacted `first_contact_escalation_hours` after the deadline: the team's manager is told."""
    extra = settings.first_contact_escalation_hours
    claimed = claim(
        session,
        FIRST_CONTACT_ESCALATED,
        _uncontacted_overdue(session, now, settings, FIRST_CONTACT_ESCALATED, extra),
    )
    managers = TeamManagers(session)
    owners = dict(session.execute(select(User.id, User.display_name)).all()) if claimed else {}
    for cid, number, name, owner_id, team in customers_of(session, claimed):
        for user_id in managers.of(team):
            notify(
                session,
                user_id=user_id,
                kind=FIRST_CONTACT_ESCALATED,
                params={
                    "customer_no": number,
                    "name": name,
                    "owner": owners.get(owner_id, "—"),
                    "hours": settings.first_contact_sla_hours + extra,
                },
                customer_id=cid,
            )
    return len(claimed)


def fire_a_daily(session: Session, now: datetime, settings: Settings) -> int:
    """From `a_daily_hour` on the team's day: each owner is told of their open A customers newly on the
    day's list (one message per owner; the count is of customers)."""
    local = _local(now, settings)
    if local.hour < settings.a_daily_hour:
        return 0
    period = local.date().isoformat()
    stmt = select(Customer.id).where(
        Customer.status == "open",
        Customer.grade == "A",
        Customer.owner_id.is_not(None),
        not_fired(A_DAILY, Customer.id, period),
    )
    claimed = claim(session, A_DAILY, list(session.scalars(stmt)), period=period)
    per_owner: Counter[int] = Counter()
    for chunk in _chunks(claimed):
        per_owner.update(session.scalars(select(Customer.owner_id).where(Customer.id.in_(chunk))))
    for owner_id, count in sorted(per_owner.items()):
        notify(session, user_id=owner_id, kind=A_DAILY, params={"count": count, "date": period})
    kept_from = (local.date() - timedelta(days=A_DAILY_KEPT_DAYS)).isoformat()
    session.execute(delete(TimerFire).where(TimerFire.rule == A_DAILY, TimerFire.period < kept_from))
    return len(claimed)


def _open_tasks(session: Session, rule: str, *conditions: ColumnElement[bool]) -> list[int]:
    stmt = select(Task.id).where(
        Task.done_at.is_(None), Task.owner_id.is_not(None), *conditions, not_fired(rule, Task.id)
    )
    return list(session.scalars(stmt))


def _tell_task_owners(session: Session, rule: str, task_ids: Sequence[int], settings: Settings) -> None:
    for chunk in _chunks(task_ids):
        stmt = (
            select(Task.id, Task.owner_id, Task.title, Task.due_at, Task.customer_id, Customer.customer_no)
            .outerjoin(Customer, Customer.id == Task.customer_id)
            .where(Task.id.in_(chunk))
            .order_by(Task.id)
        )
        for _tid, owner_id, title, due_at, customer_id, number in session.execute(stmt):
            assert owner_id is not None  # _open_tasks selects owned tasks only
            notify(
                session,
                user_id=owner_id,
                kind=rule,
                params={"title": title, "due": _shown(due_at, settings), "customer_no": number or ""},
                customer_id=customer_id,
            )


def fire_task_due(session: Session, now: datetime, settings: Settings) -> int:
    """Open tasks coming due within `task_reminder_minutes` (and not yet past): the owner is reminded."""
    soon = now + timedelta(minutes=settings.task_reminder_minutes)
    claimed = claim(
        session, TASK_DUE, _open_tasks(session, TASK_DUE, Task.due_at >= now, Task.due_at <= soon)
    )
    _tell_task_owners(session, TASK_DUE, claimed, settings)
    return len(claimed)


def fire_task_overdue(session: Session, now: datetime, settings: Settings) -> int:
    """Open tasks past their due time (within the look-back): the owner is told it is overdue."""
    since = now - timedelta(days=settings.timer_lookback_days)
    claimed = claim(
        session, TASK_OVERDUE, _open_tasks(session, TASK_OVERDUE, Task.due_at < now, Task.due_at >= since)
    )
    _tell_task_owners(session, TASK_OVERDUE, claimed, settings)
    return len(claimed)


# The engine runs these in order, then the rules a higher layer registers (funnel.closing.reminders adds
# proposal feedback, idle quotes, overdue instalments and the survey through register_rules, called from
# funnel.integrations.handlers.install_handlers: timers sit below closing and cannot import it).
RULES: tuple[Rule, ...] = (
    Rule(FIRST_CONTACT_OVERDUE, fire_first_contact_overdue),
    Rule(FIRST_CONTACT_ESCALATED, fire_first_contact_escalated),
    Rule(A_DAILY, fire_a_daily),
    Rule(TASK_DUE, fire_task_due),
    Rule(TASK_OVERDUE, fire_task_overdue),
)
_registered: dict[str, Rule] = {}


def register_rules(*rules: Rule) -> None:
    """Add rules after the built-in ones (idempotent: registering a name again replaces its rule)."""
    builtin = {rule.name for rule in RULES}
    for rule in rules:
        if rule.name in builtin:
            raise ValueError(f"timer rule {rule.name!r} is built in")
        if len(rule.name) > 32:  # timer_fire.rule is String(32)
            raise ValueError(f"timer rule name {rule.name!r} is longer than 32 characters")
        _registered[rule.name] = rule


def all_rules() -> tuple[Rule, ...]:
    """Every rule the engine runs, in order: the built-in ones, then the registered ones."""
    return RULES + tuple(_registered.values())

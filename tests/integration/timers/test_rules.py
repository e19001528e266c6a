"""Every timer rule on a fake clock: before, at and after its limit; business hours over a weekend; once only."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM, Actor
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.settings import get_settings
from funnel.store.models import Customer, Notification, Task, TimerFire, User
from funnel.timers.engine import RULE_NAMES, run_timers
from funnel.working.tasks import create_task, snooze_task

FRI = datetime(2026, 12, 4, 10)  # a Friday, 10:00 on the team's (UTC) clock
SLA = timedelta(hours=24)
_serial = iter(range(1, 10**6))


def lead(session: Session, *, created_at: datetime, owner: User | None = None, **fields: object) -> Customer:
    n = next(_serial)
    values = {"owner_id": owner.id if owner else None, **fields}
    row = create_lead(
        session,
        LeadInput(name=f"Lead {n}", email=f"timer{n}@example.com", created_at=created_at, **values),  # type: ignore[arg-type]
        actor=SYSTEM,
    )
    session.commit()
    return row


def notes(session: Session, user: User, kind: str) -> list[Notification]:
    session.expire_all()
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id, Notification.kind == kind)
            .order_by(Notification.id)
        )
    )


def fired(engine: Engine, now: datetime) -> dict[str, int]:
    return run_timers(engine, now)


def test_the_engine_reports_every_rule_and_nothing_on_an_empty_database(engine: Engine) -> None:
    assert fired(engine, FRI) == dict.fromkeys(RULE_NAMES, 0)
    assert {"first_contact_overdue", "a_daily", "task_due"} <= set(RULE_NAMES)


def test_first_contact_overdue_fires_after_the_sla_once_and_tells_the_owner(
    engine: Engine, session: Session, role_users: dict[str, User]
) -> None:
    rep = role_users["rep"]
    customer = lead(session, created_at=FRI, owner=rep)

    assert fired(engine, FRI + SLA - timedelta(seconds=1))["first_contact_overdue"] == 0
    assert fired(engine, FRI + SLA)["first_contact_overdue"] == 0  # at the limit: still on time
    assert fired(engine, FRI + SLA + timedelta(seconds=1))["first_contact_overdue"] == 1
    assert fired(engine, FRI + SLA + timedelta(seconds=1))["first_contact_overdue"] == 0
    assert fired(engine, FRI + SLA + timedelta(hours=2))["first_contact_overdue"] == 0

    [note] = notes(session, rep, "first_contact_overdue")
    assert note.customer_id == customer.id
    assert customer.customer_no in note.message and "24 h" in note.message
    assert notes(session, role_users["manager"], "first_contact_overdue") == []


def test_contacted_closed_and_long_forgotten_leads_are_not_flagged(
    engine: Engine, session: Session, role_users: dict[str, User]
) -> None:
    rep = role_users["rep"]
    lead(session, created_at=FRI, owner=rep, stage="contact")  # contacted
    lead(session, created_at=FRI, owner=rep, status="lost", lost_reason="budget")
    lookback = timedelta(days=get_settings().timer_lookback_days)
    lead(session, created_at=FRI - lookback - timedelta(days=1), owner=rep)  # before the look-back

    assert fired(engine, FRI + SLA + timedelta(hours=1))["first_contact_overdue"] == 0


def test_an_unowned_lead_is_told_to_the_managers(
    engine: Engine, session: Session, role_users: dict[str, User]
) -> None:
    lead(session, created_at=FRI)
    assert fired(engine, FRI + 2 * SLA)["first_contact_overdue"] == 1
    assert len(notes(session, role_users["manager"], "first_contact_overdue")) == 1


def test_first_contact_in_business_hours_skips_the_weekend(
    engine: Engine, session: Session, role_users: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_FIRST_CONTACT_BUSINESS_HOURS", "1")
    get_settings.cache_clear()
    rep = role_users["rep"]
    lead(session, created_at=FRI, owner=rep)  # Fri 8 h + Mon 9 h + Tue 7 h: due Tuesday 16:00
    due = datetime(2026, 12, 8, 16)

    for now in (FRI + SLA + timedelta(hours=1), datetime(2026, 12, 7, 17), due):  # Sat, Mon, the limit
        assert fired(engine, now)["first_contact_overdue"] == 0, now
    assert fired(engine, due + timedelta(seconds=1))["first_contact_overdue"] == 1
    assert fired(engine, due + timedelta(hours=1))["first_contact_overdue"] == 0
    assert len(notes(session, rep, "first_contact_overdue")) == 1


def test_the_manager_is_told_after_the_escalation_delay(
    engine: Engine, session: Session, role_users: dict[str, User]
) -> None:
    rep, manager = role_users["rep"], role_users["manager"]
    lead(session, created_at=FRI, owner=rep)
    escalation = SLA + timedelta(hours=get_settings().first_contact_escalation_hours)

    at_limit = fired(engine, FRI + escalation)
    assert at_limit["first_contact_escalated"] == 0
    assert at_limit["first_contact_overdue"] == 1  # the owner is told first
    assert fired(engine, FRI + escalation + timedelta(seconds=1))["first_contact_escalated"] == 1
    assert fired(engine, FRI + escalation + timedelta(hours=1))["first_contact_escalated"] == 0
    [note] = notes(session, manager, "first_contact_escalated")
    assert "REP" in note.message  # the owner is named
    assert notes(session, rep, "first_contact_escalated") == []


def test_the_escalation_goes_to_the_manager_of_the_owners_team(
    engine: Engine, session: Session, role_users: dict[str, User]
) -> None:
    rep, manager = role_users["rep"], role_users["manager"]
    session.execute(update(User).where(User.id.in_([rep.id, manager.id])).values(team="north"))
    other = User(username="south_mgr", display_name="S", role="manager", team="south")
    session.add(other)
    session.commit()
    lead(session, created_at=FRI, owner=rep)

    assert fired(engine, FRI + 3 * SLA)["first_contact_escalated"] == 1
    assert len(notes(session, manager, "first_contact_escalated")) == 1
    assert notes(session, other, "first_contact_escalated") == []


def test_the_a_list_is_sent_once_a_day_per_owner_counting_customers(
    engine: Engine, session: Session, role_users: dict[str, User]
) -> None:
    rep, rep2 = role_users["rep"], role_users["rep2"]
    for owner, grade in [(rep, "A"), (rep, "A"), (rep2, "A"), (rep, "B")]:
        lead(session, created_at=FRI - timedelta(days=30), owner=owner, grade=grade)
    lead(session, created_at=FRI, grade="A")  # nobody's list
    monday = datetime(2026, 12, 7)
    hour = get_settings().a_daily_hour

    assert fired(engine, monday.replace(hour=hour - 1, minute=59))["a_daily"] == 0
    assert fired(engine, monday.replace(hour=hour))["a_daily"] == 3
    assert fired(engine, monday.replace(hour=17))["a_daily"] == 0
    [note] = notes(session, rep, "a_daily")
    assert note.params == {"count": 2, "date": "2026-12-07"}
    assert len(notes(session, rep2, "a_daily")) == 1

    # A customer graded A later that day is added; the next day the whole list comes again.
    lead(session, created_at=FRI, owner=rep2, grade="A", stage="contact")
    assert fired(engine, monday.replace(hour=18))["a_daily"] == 1
    assert fired(engine, monday.replace(hour=hour) + timedelta(days=1))["a_daily"] == 4
    assert len(notes(session, rep, "a_daily")) == 2


def test_a_task_is_reminded_before_it_is_due_and_told_when_overdue(
    engine: Engine, session: Session, role_users: dict[str, User]
) -> None:
    rep = role_users["rep"]
    customer = lead(session, created_at=FRI, owner=rep, stage="contact")
    due = FRI + timedelta(days=1)
    task = create_task(
        session, actor=Actor.of(rep), title="Send the quote", due_at=due, customer_id=customer.id
    )
    session.commit()
    ahead = timedelta(minutes=get_settings().task_reminder_minutes)

    assert fired(engine, due - ahead - timedelta(seconds=1))["task_due"] == 0
    assert fired(engine, due - ahead)["task_due"] == 1
    assert fired(engine, due)["task_due"] == 0
    assert fired(engine, due)["task_overdue"] == 0  # due now, not yet overdue
    assert fired(engine, due + timedelta(seconds=1))["task_overdue"] == 1
    assert fired(engine, due + timedelta(hours=5)) == dict.fromkeys(RULE_NAMES, 0)
    [reminder] = notes(session, rep, "task_due")
    assert "Send the quote" in reminder.message and reminder.customer_id == customer.id
    assert len(notes(session, rep, "task_overdue")) == 1

    # Snoozed, the task is reminded again for its new due time; done, it is not.
    now = due + timedelta(hours=6)
    snooze_task(session, actor=Actor.of(rep), task_id=task.id, preset="tomorrow", now=now)
    session.commit()
    new_due = session.get(Task, task.id).due_at  # type: ignore[union-attr]
    assert fired(engine, new_due - ahead)["task_due"] == 1
    session.execute(update(Task).values(done_at=new_due))
    session.commit()
    assert fired(engine, new_due + timedelta(hours=1))["task_overdue"] == 0


def test_two_runs_at_the_same_time_create_each_reminder_once(
    engine: Engine, session: Session, role_users: dict[str, User]
) -> None:
    rep = role_users["rep"]
    for _ in range(30):
        lead(session, created_at=FRI, owner=rep, grade="A")
    now = FRI + 2 * SLA
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(run_timers(engine, now))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(r["first_contact_overdue"] for r in results) == 30
    assert sum(r["a_daily"] for r in results) == 30
    assert len(notes(session, rep, "first_contact_overdue")) == 30
    assert len(notes(session, rep, "a_daily")) == sum(1 for r in results if r["a_daily"])


def test_the_rules_read_a_few_thousand_customers_by_index_in_under_two_seconds(
    engine: Engine, session: Session, role_users: dict[str, User]
) -> None:
    rep = role_users["rep"]
    rows = [
        {
            "customer_no": f"S{i:06d}",
            "name": f"Scale {i}",
            "owner_id": rep.id,
            "grade": "B",
            "stage": "contact" if i % 10 else "lead",
            "furthest_stage": "contact" if i % 10 else "lead",
            "status": "open",
            "created_at": FRI - timedelta(days=60) + timedelta(minutes=i),
            "first_contacted_at": None if i % 10 == 0 else FRI - timedelta(days=59),
            "updated_at": FRI,
            "version": 1,
        }
        for i in range(5000)
    ]
    session.execute(insert(Customer), rows)
    session.commit()
    lead(session, created_at=FRI, owner=rep)

    started = time.perf_counter()
    result = fired(engine, FRI + 2 * SLA)
    first = time.perf_counter() - started
    started = time.perf_counter()
    again = fired(engine, FRI + 2 * SLA)
    second = time.perf_counter() - started

    assert result["first_contact_overdue"] == 1  # the 500 old uncontacted ones are past the look-back
    assert sum(again.values()) == 0
    assert session.scalar(select(func.count()).select_from(TimerFire)) == 2  # overdue + escalated
    assert first < 2 and second < 2, (first, second)

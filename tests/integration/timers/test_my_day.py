"""My day and the manager's team view, read from the data."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM, Actor
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.errors import PermissionDenied
from funnel.store.models import Customer, User
from funnel.timers.engine import run_timers
from funnel.timers.my_day import my_day, team_day
from funnel.working.tasks import create_task

NOW = datetime(2026, 12, 7, 10)  # Monday 10:00 (team clock: UTC)
_serial = iter(range(1, 10**6))


def lead(session: Session, owner: User, created_at: datetime, **fields: object) -> Customer:
    n = next(_serial)
    row = create_lead(
        session,
        LeadInput(
            name=f"Day {n}", email=f"day{n}@example.com", owner_id=owner.id, created_at=created_at, **fields
        ),  # type: ignore[arg-type]
        actor=SYSTEM,
    )
    session.commit()
    return row


def test_my_day_lists_overdue_today_first_contacts_the_a_list_and_unread(
    engine: Engine, session: Session, role_users: dict[str, User]
) -> None:
    rep, rep2 = role_users["rep"], role_users["rep2"]
    me = Actor.of(rep)
    create_task(session, actor=me, title="late", due_at=NOW - timedelta(hours=1))
    create_task(session, actor=me, title="today", due_at=NOW + timedelta(hours=5))
    create_task(session, actor=me, title="tomorrow", due_at=NOW + timedelta(days=1))
    session.commit()
    fresh = lead(session, rep, NOW - timedelta(hours=2))
    stale = lead(session, rep, NOW - timedelta(hours=30), grade="A")
    lead(session, rep, NOW - timedelta(hours=30), stage="contact")  # contacted: not pending
    lead(session, rep2, NOW - timedelta(hours=30), grade="A")  # someone else's
    run_timers(engine, NOW)

    day = my_day(session, actor=me, lang="en", now=NOW)

    assert [t.title for t in day.overdue] == ["late"]
    assert [t.title for t in day.due_today] == ["today"]
    assert [(p.customer_id, p.overdue) for p in day.first_contacts] == [(stale.id, True), (fresh.id, False)]
    assert day.first_contacts[1].time_left == timedelta(hours=22)
    assert [c.customer_id for c in day.a_list] == [stale.id]
    kinds = sorted(n.kind for n in day.unread)
    assert kinds == ["a_daily", "first_contact_overdue", "task_overdue"]


def test_a_user_without_customers_has_an_empty_day(session: Session, role_users: dict[str, User]) -> None:
    day = my_day(session, actor=Actor.of(role_users["leader"]), lang="zh", now=NOW)
    assert (day.overdue, day.due_today, day.first_contacts, day.a_list, day.unread) == ([], [], [], [], [])


def test_the_team_view_shows_breaches_speed_to_lead_and_overdue_tasks_per_rep(
    engine: Engine, session: Session, role_users: dict[str, User]
) -> None:
    rep, rep2, manager = role_users["rep"], role_users["rep2"], role_users["manager"]
    created = NOW - timedelta(days=3)
    # rep contacted three leads after 10, 30 and 600 minutes (median 30); rep2 two after 60 and 120 (median 90).
    for owner, minutes in [(rep, 10), (rep, 30), (rep, 600), (rep2, 60), (rep2, 120)]:
        row = lead(session, owner, created)
        session.execute(
            update(Customer)
            .where(Customer.id == row.id)
            .values(first_contacted_at=created + timedelta(minutes=minutes))
        )
    lead(session, rep2, NOW - timedelta(hours=30))  # waiting, flagged by the timers
    create_task(session, actor=Actor.of(rep2), title="late", due_at=NOW - timedelta(days=1))
    session.commit()
    run_timers(engine, NOW)

    frame = team_day(session, actor=Actor.of(manager), now=NOW).set_index("rep")

    assert frame.loc["REP", ["sla_breaches", "waiting", "contacted", "overdue_tasks"]].tolist() == [
        0,
        0,
        3,
        0,
    ]
    assert frame.loc["REP", "median_minutes_to_contact"] == pytest.approx(30, abs=0.01)
    assert frame.loc["REP2", ["sla_breaches", "waiting", "contacted", "overdue_tasks"]].tolist() == [
        1,
        1,
        2,
        1,
    ]
    assert frame.loc["REP2", "median_minutes_to_contact"] == pytest.approx(90, abs=0.01)
    assert "LEADER" not in frame.index


def test_only_managers_read_the_team_view_and_a_team_manager_reads_their_team(
    session: Session, role_users: dict[str, User]
) -> None:
    with pytest.raises(PermissionDenied):
        team_day(session, actor=Actor.of(role_users["rep"]), now=NOW)
    manager = role_users["manager"]
    session.execute(update(User).where(User.id.in_([manager.id, role_users["rep"].id])).values(team="north"))
    session.commit()
    frame = team_day(session, actor=Actor.of(session.get(User, manager.id)), now=NOW)  # type: ignore[arg-type]
    assert sorted(frame["rep"]) == ["MANAGER", "REP"]

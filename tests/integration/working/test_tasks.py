"""Tasks: plan, complete, snooze with presets, reassign; who may; what is refused and why; the audit."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM, Actor
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.errors import NotFound, PermissionDenied, ValidationError
from funnel.core.settings import get_settings
from funnel.store.models import AuditLog, Customer, Notification, User
from funnel.working.tasks import (
    TASK_KINDS,
    complete_task,
    create_task,
    customer_tasks,
    open_tasks_of,
    preset_due,
    reassign_task,
    snooze_task,
    task_owners,
)

NOW = datetime(2026, 12, 4, 15)  # Friday 15:00 UTC
DUE = NOW + timedelta(days=1)


def customer_of(session: Session, owner: User, name: str = "Acme") -> Customer:
    row = create_lead(
        session, LeadInput(name=name, email=f"{name.lower()}@example.com", owner_id=owner.id), actor=SYSTEM
    )
    session.commit()
    return row


def fields(error: ValidationError) -> dict[str, str]:
    return {e.field: e.code for e in error.errors}


@pytest.mark.parametrize(
    ("preset", "zone", "expected"),
    [
        ("tomorrow", "UTC", datetime(2026, 12, 5, 9)),
        ("in_3_days", "UTC", datetime(2026, 12, 7, 9)),
        ("next_monday", "UTC", datetime(2026, 12, 7, 9)),
        # 15:00 UTC is 23:00 in Shanghai; tomorrow 9:00 there is 01:00 UTC on the 5th.
        ("tomorrow", "Asia/Shanghai", datetime(2026, 12, 5, 1)),
        ("next_monday", "Asia/Shanghai", datetime(2026, 12, 7, 1)),
    ],
)
def test_presets_are_the_start_of_a_team_day(
    preset: str, zone: str, expected: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_TIMEZONE", zone)
    get_settings.cache_clear()
    assert preset_due(preset, NOW) == expected


def test_next_monday_on_a_monday_is_a_week_later() -> None:
    assert preset_due("next_monday", datetime(2026, 12, 7, 8)) == datetime(2026, 12, 14, 9)


def test_a_rep_plans_completes_and_snoozes_their_own_follow_up(
    session: Session, role_users: dict[str, User]
) -> None:
    rep = role_users["rep"]
    actor = Actor.of(rep)
    customer = customer_of(session, rep)

    task = create_task(
        session, actor=actor, title="  Call back  ", due_at=DUE, customer_id=customer.id, kind="call"
    )
    assert (task.title, task.owner_id, task.kind, task.due_at) == ("Call back", rep.id, "call", DUE)
    [row] = customer_tasks(session, actor=actor, customer_id=customer.id, now=DUE + timedelta(seconds=1))
    assert row.overdue and row.customer_no == customer.customer_no

    snooze_task(session, actor=actor, task_id=task.id, preset="next_monday", now=NOW)
    assert task.due_at == datetime(2026, 12, 7, 9)
    complete_task(session, actor=actor, task_id=task.id, now=NOW)
    assert task.done_at == NOW
    with pytest.raises(ValidationError) as done_twice:
        complete_task(session, actor=actor, task_id=task.id)
    assert fields(done_twice.value) == {"form": "task.error.already_done"}
    [row] = customer_tasks(session, actor=actor, customer_id=customer.id, now=DUE + timedelta(days=9))
    assert not row.overdue  # done is never overdue

    audit = session.scalars(select(AuditLog).where(AuditLog.entity == "task").order_by(AuditLog.id)).all()
    assert [a.action for a in audit] == ["create", "update", "update"]
    assert audit[1].changes == {"task_due_at": [DUE.isoformat(), "2026-12-07T09:00:00"]}
    assert all(a.customer_id == customer.id and a.user_id == rep.id for a in audit)


def test_bad_input_is_refused_naming_each_field(session: Session, role_users: dict[str, User]) -> None:
    actor = Actor.of(role_users["rep"])
    with pytest.raises(ValidationError) as error:
        create_task(session, actor=actor, title=" ", due_at=None, kind="dance")
    assert fields(error.value) == {
        "title": "error.required",
        "due_at": "error.required",
        "kind": "task.error.kind",
    }
    with pytest.raises(ValidationError) as error:
        create_task(session, actor=actor, title="x" * 301, due_at=DUE)
    assert fields(error.value) == {"title": "error.too_long"}
    task = create_task(session, actor=actor, title="ok", due_at=DUE)
    with pytest.raises(ValidationError) as error:
        snooze_task(session, actor=actor, task_id=task.id, until=NOW - timedelta(hours=1), now=NOW)
    assert fields(error.value) == {"due_at": "task.error.snooze_past"}
    with pytest.raises(ValidationError) as error:
        snooze_task(session, actor=actor, task_id=task.id, preset="someday", now=NOW)
    assert fields(error.value) == {"preset": "task.error.preset"}
    assert set(TASK_KINDS) >= {"follow_up", "call", "meeting"}


def test_a_rep_may_not_touch_another_reps_customer_or_task(
    session: Session, role_users: dict[str, User]
) -> None:
    rep, rep2 = role_users["rep"], role_users["rep2"]
    theirs = customer_of(session, rep2)
    with pytest.raises(PermissionDenied):
        create_task(session, actor=Actor.of(rep), title="Poach", due_at=DUE, customer_id=theirs.id)
    task = create_task(session, actor=Actor.of(rep2), title="Mine", due_at=DUE, customer_id=theirs.id)
    for act in (
        lambda: complete_task(session, actor=Actor.of(rep), task_id=task.id),
        lambda: snooze_task(session, actor=Actor.of(rep), task_id=task.id, preset="tomorrow"),
        lambda: reassign_task(session, actor=Actor.of(rep), task_id=task.id, owner_id=rep.id),
    ):
        with pytest.raises(PermissionDenied):
            act()
    with pytest.raises(PermissionDenied):  # a rep plans only for themselves
        create_task(session, actor=Actor.of(rep), title="For you", due_at=DUE, owner_id=rep2.id)
    with pytest.raises(PermissionDenied):  # leadership reads, it does not plan
        create_task(session, actor=Actor.of(role_users["leader"]), title="x", due_at=DUE)
    with pytest.raises(NotFound):
        complete_task(session, actor=Actor.of(rep), task_id=999_999)


def test_a_manager_reassigns_and_the_new_owner_is_told_and_reminded_again(
    session: Session, role_users: dict[str, User]
) -> None:
    rep, rep2, manager = role_users["rep"], role_users["rep2"], role_users["manager"]
    customer = customer_of(session, rep)
    task = create_task(session, actor=Actor.of(rep), title="Demo", due_at=DUE, customer_id=customer.id)

    # rep2 cannot see rep's customer: refused, naming the customer.
    with pytest.raises(ValidationError) as error:
        reassign_task(session, actor=Actor.of(manager), task_id=task.id, owner_id=rep2.id)
    assert fields(error.value) == {"owner_id": "task.error.owner_cannot_see"}
    with pytest.raises(ValidationError) as error:  # leadership does not work customers
        reassign_task(session, actor=Actor.of(manager), task_id=task.id, owner_id=role_users["leader"].id)
    assert fields(error.value) == {"owner_id": "error.assignee_invalid"}

    session.execute(update(Customer).where(Customer.id == customer.id).values(owner_id=rep2.id))
    reassign_task(session, actor=Actor.of(manager), task_id=task.id, owner_id=rep2.id)
    assert task.owner_id == rep2.id
    [note] = session.scalars(select(Notification).where(Notification.user_id == rep2.id)).all()
    assert note.kind == "task_assigned" and "Demo" in note.message
    assert [o for o, _ in task_owners(session, actor=Actor.of(rep2), customer_id=customer.id)] == [rep2.id]
    assert rep2.id in [o for o, _ in task_owners(session, actor=Actor.of(manager), customer_id=customer.id)]


def test_a_manager_plans_for_a_rep_of_their_team_only(session: Session, role_users: dict[str, User]) -> None:
    rep, rep2, manager = role_users["rep"], role_users["rep2"], role_users["manager"]
    session.execute(update(User).where(User.id.in_([rep.id, manager.id])).values(team="north"))
    session.commit()
    boss = Actor.of(session.get(User, manager.id))  # type: ignore[arg-type]
    task = create_task(session, actor=boss, title="Visit", due_at=DUE, owner_id=rep.id, kind="visit")
    assert task.owner_id == rep.id
    with pytest.raises(ValidationError) as error:
        create_task(session, actor=boss, title="Visit", due_at=DUE, owner_id=rep2.id)
    assert fields(error.value) == {"owner_id": "error.assignee_other_team"}


def test_my_open_tasks_are_my_own_due_before_the_bound(session: Session, role_users: dict[str, User]) -> None:
    rep, rep2 = role_users["rep"], role_users["rep2"]
    create_task(session, actor=Actor.of(rep), title="late", due_at=NOW - timedelta(days=1))
    create_task(session, actor=Actor.of(rep), title="today", due_at=NOW + timedelta(hours=2))
    create_task(session, actor=Actor.of(rep), title="later", due_at=NOW + timedelta(days=5))
    create_task(session, actor=Actor.of(rep2), title="not mine", due_at=NOW)
    rows = open_tasks_of(session, actor=Actor.of(rep), due_before=NOW + timedelta(days=1), now=NOW)
    assert [(r.title, r.overdue) for r in rows] == [("late", True), ("today", False)]
    assert open_tasks_of(session, actor=SYSTEM, due_before=NOW) == []

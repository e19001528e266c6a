"""The leads list's and the board's read queries: filters, first-contact states, sorts, counts, on each backend."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.errors import ValidationError
from funnel.core.settings import get_settings
from funnel.customers.lists import save_value
from funnel.customers.read import (
    SORT_KEYS,
    LeadFilters,
    board,
    count_customers,
    customer_detail,
    list_customers,
    owner_choices,
    team_choices,
)
from funnel.customers.stages import move_stage
from funnel.customers.tags import set_tags
from funnel.store.models import Activity, Customer, User

FRI = datetime(2026, 12, 4, 10)  # a Friday, 10:00 on the team's (UTC) clock
NOW = datetime(2026, 12, 10, 9)


@pytest.fixture
def actors(role_users: dict[str, User]) -> dict[str, Actor]:
    return {name: Actor.of(user) for name, user in role_users.items()}


def lead(session: Session, actor: Actor, name: str, **fields: object) -> Customer:
    return create_lead(
        session, LeadInput(name=name, email=f"{name.lower().replace(' ', '.')}@x.cn", **fields), actor=actor
    )  # type: ignore[arg-type]


def names(frame) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(frame["name"])


def test_each_filter_narrows_the_list_and_the_count_agrees(session, actors, role_users):
    session.execute(update(User).where(User.username == "rep2").values(team="north"))
    save_value(session, "tag", code="vip", name_en="VIP", name_zh="重要客户")
    a = lead(session, actors["rep"], "Alpha", grade="A", channel="官网", created_at=NOW - timedelta(days=1))
    b = lead(session, actors["rep2"], "Beta", grade="B", channel="展会", created_at=NOW - timedelta(days=10))
    lead(session, actors["rep"], "Gamma", created_at=NOW - timedelta(days=40))
    session.execute(update(Customer).where(Customer.id == a.id).values(score=80))
    session.execute(update(Customer).where(Customer.id == b.id).values(score=40, team="north"))
    set_tags(session, actor=actors["manager"], customer_id=b.id, names=["vip"])
    session.commit()
    manager = actors["manager"]
    cases = [
        (LeadFilters(owner_id=role_users["rep2"].id), ["Beta"]),
        (LeadFilters(team="north"), ["Beta"]),
        (LeadFilters(grades=("A", "B")), ["Alpha", "Beta"]),
        (LeadFilters(channels=("官网",)), ["Alpha"]),
        (LeadFilters(tag="vip"), ["Beta"]),
        (LeadFilters(score_min=50), ["Alpha"]),
        (LeadFilters(score_min=40, score_max=79), ["Beta"]),
        (LeadFilters(created_from=NOW - timedelta(days=15), created_to=NOW - timedelta(days=2)), ["Beta"]),
        (LeadFilters(created_from=NOW - timedelta(days=15)), ["Alpha", "Beta"]),
        (LeadFilters(grades=("A",), tag="vip"), []),
    ]
    for filters, expected in cases:
        assert names(list_customers(session, actor=manager, filters=filters, now=NOW)) == expected, filters
        assert count_customers(session, actor=manager, filters=filters, now=NOW) == len(expected), filters
    # A rep's filter never reaches past their scope.
    assert names(list_customers(session, actor=actors["rep"], filters=LeadFilters(tag="vip"))) == []
    assert count_customers(session, actor=actors["rep"]) == 2


def test_first_contact_states_use_the_timers_business_hours_deadline(session, actors, monkeypatch):
    monkeypatch.setenv("CRM_FIRST_CONTACT_BUSINESS_HOURS", "1")
    get_settings.cache_clear()
    late = lead(session, actors["rep"], "Friday lead", created_at=FRI)  # Fri 8 h + Mon 9 h + Tue 7 h
    contacted = lead(session, actors["rep"], "Contacted", created_at=FRI)
    move_stage(session, customer_id=contacted.id, to_stage="contact", actor=actors["rep"], at=FRI)
    session.commit()
    monday = datetime(2026, 12, 7, 17)  # 79 h on the wall clock, 16 business hours
    due = datetime(2026, 12, 8, 16)  # Tuesday 16:00
    rep = actors["rep"]

    def state(sla: str, now: datetime) -> list[str]:
        return names(list_customers(session, actor=rep, filters=LeadFilters(sla=sla), now=now))

    assert state("overdue", monday) == [] and state("due", monday) == ["Friday lead"]
    assert state("overdue", due) == []  # at the deadline it is still on time
    assert state("overdue", due + timedelta(seconds=1)) == ["Friday lead"]
    assert state("due", due + timedelta(seconds=1)) == []
    assert state("done", monday) == ["Contacted"]
    # The red flag of the list and of the customer page is the same deadline.
    flags = list_customers(session, actor=rep, now=monday).set_index("name")["first_contact_overdue"]
    assert not flags["Friday lead"]
    assert (
        list_customers(session, actor=rep, now=due + timedelta(hours=1))
        .set_index("name")
        .loc["Friday lead", "first_contact_overdue"]
    )
    assert customer_detail(
        session, actor=rep, customer_id=late.id, now=due + timedelta(hours=1)
    ).first_contact_overdue
    assert not customer_detail(session, actor=rep, customer_id=late.id, now=monday).first_contact_overdue


def test_an_unknown_state_or_sort_is_refused_naming_the_field(session, actors):
    with pytest.raises(ValidationError) as caught:
        list_customers(session, actor=actors["rep"], filters=LeadFilters(sla="late"))
    assert caught.value.errors[0].field == "sla"
    with pytest.raises(ValidationError) as caught:
        list_customers(session, actor=actors["rep"], sort="random")
    assert caught.value.errors[0].field == "sort"


def test_every_sort_orders_the_list_and_pages_never_overlap(session, actors):
    rows = {
        "Old": dict(created_at=NOW - timedelta(days=3), amount=Decimal("500")),
        "Mid": dict(created_at=NOW - timedelta(days=2), amount=Decimal("9000")),
        "New": dict(created_at=NOW - timedelta(days=1)),
    }
    ids = {name: lead(session, actors["rep"], name, **fields).id for name, fields in rows.items()}
    for name, score, chance in (("Old", 90, 0.2), ("Mid", None, 0.9), ("New", 10, None)):
        session.execute(
            update(Customer).where(Customer.id == ids[name]).values(score=score, win_probability=chance)
        )
    session.add(Activity(customer_id=ids["Old"], kind="call", at=NOW - timedelta(hours=1), summary="x"))
    session.add(Activity(customer_id=ids["New"], kind="call", at=NOW - timedelta(hours=5), summary="x"))
    session.commit()
    expected = {
        "newest": ["New", "Mid", "Old"],
        "oldest": ["Old", "Mid", "New"],
        "score": ["Old", "New", "Mid"],  # unscored last
        "win_probability": ["Mid", "Old", "New"],
        "last_activity": ["Old", "New", "Mid"],
        "amount": ["Mid", "Old", "New"],
    }
    assert set(expected) == set(SORT_KEYS)
    manager = actors["manager"]
    for sort, order in expected.items():
        assert list_customers(session, actor=manager, sort=sort)["name"].tolist() == order, sort
        paged = [
            list_customers(session, actor=manager, sort=sort, limit=1, offset=i)["name"].iloc[0]
            for i in range(3)
        ]
        assert paged == order, sort
    frame = list_customers(session, actor=manager).set_index("name")
    assert frame.loc["Mid", "amount"] == 9000.0 and frame.loc["Old", "last_activity"] is not None


def test_the_board_counts_and_amounts_cover_the_whole_filter_and_limit_the_cards(session, actors):
    for i in range(5):
        lead(session, actors["rep"], f"Lead {i}", amount=Decimal("100"))
    for i in range(2):
        lead(session, actors["rep"], f"Qualify {i}", stage="qualify", amount=Decimal("1000"))
    lead(session, actors["rep"], "Won", status="won", amount=Decimal("99999"))
    lead(session, actors["rep2"], "Other", amount=Decimal("7"))
    session.commit()
    stages = ["lead", "contact", "qualify"]
    columns = board(session, actor=actors["rep"], stages=stages, per_column=3, now=NOW)
    by_stage = {column.stage: column for column in columns}
    assert [c.stage for c in columns] == stages
    direct = dict(
        session.execute(
            select(Customer.stage, func.count())
            .where(Customer.owner_id == actors["rep"].user_id, Customer.status == "open")
            .group_by(Customer.stage)
        ).all()
    )
    assert {s: c.count for s, c in by_stage.items() if c.count} == direct == {"lead": 5, "qualify": 2}
    assert (by_stage["lead"].amount, by_stage["qualify"].amount) == (500.0, 2000.0)
    assert (len(by_stage["lead"].cards), by_stage["lead"].more) == (3, 2)
    assert by_stage["contact"].cards.empty and by_stage["contact"].more == 0
    graded = board(
        session, actor=actors["manager"], stages=stages, filters=LeadFilters(owner_id=actors["rep2"].user_id)
    )
    assert [c.count for c in graded] == [1, 0, 0]
    card = by_stage["qualify"].cards.iloc[0]
    assert card["stage_since"] is not None and card["version"] >= 1


def test_owner_and_team_choices_follow_the_scope(session, actors, role_users):
    session.execute(update(User).where(User.username.in_(["rep", "manager"])).values(team="east"))
    session.commit()
    east_manager = Actor.of(role_users["manager"])
    assert [u.id for u in owner_choices(session, actor=actors["rep"])] == [role_users["rep"].id]
    assert {u.id for u in owner_choices(session, actor=east_manager)} == {
        role_users["rep"].id,
        role_users["manager"].id,
    }
    assert "REP2" in {u.display_name for u in owner_choices(session, actor=actors["admin"])}
    assert team_choices(session, actor=east_manager) == ["east"]
    assert team_choices(session, actor=actors["admin"]) == ["east"]

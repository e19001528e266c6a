"""Routing against the store: each rule kind, fairness, caps, away reps, fallbacks, reasons, the handler."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM, Actor
from funnel.accounts.users import UserInput, add_user
from funnel.capture.leads import LeadInput, create_lead
from funnel.capture.routing import LeadFacts, describe_reason, reassign_many, route_many
from funnel.capture.routing_rules import (
    RuleInput,
    RuleSet,
    current_rule_set,
    preview,
    replace_rules,
    set_availability,
)
from funnel.core.db import session_scope
from funnel.core.errors import ValidationError
from funnel.customers.edit import assign_customer
from funnel.customers.lists import save_value
from funnel.inbox.notify import inbox, unread_count
from funnel.store.models import AuditLog, Customer, CustomerTag, ListItem, RoutingCursor, User

_serial = iter(range(1, 10**6))


def reps(session: Session, team: str, count: int, prefix: str | None = None) -> list[User]:
    prefix = prefix or team
    return [
        add_user(
            session,
            UserInput(username=f"{prefix}{i}", display_name=f"{prefix.title()} {i}", team=team),
            password=None,
            actor=SYSTEM,
        )
        for i in range(1, count + 1)
    ]


def lead(session: Session, **fields: object) -> Customer:
    n = next(_serial)
    values: dict[str, object] = {"name": f"Lead {n}", "email": f"lead{n}@example.com", **fields}
    return create_lead(session, LeadInput(**values), actor=SYSTEM)  # type: ignore[arg-type]


def rules(session: Session, *items: RuleInput, **settings: object) -> None:
    replace_rules(session, actor=SYSTEM, rule_set=RuleSet(rules=list(items), **settings))  # type: ignore[arg-type]


def routed(session: Session, customer: Customer) -> Customer:
    route_many(session, [customer.id], actor=SYSTEM)
    session.refresh(customer)
    return customer


@pytest.mark.parametrize(
    ("rule", "matching", "other"),
    [
        (RuleInput(region=("华东",)), {"region": "华东"}, {"region": "华北"}),
        (RuleInput(industry=("教育",)), {"industry": "教育"}, {"industry": "医疗"}),
        (RuleInput(channel=("social",)), {"channel": "social"}, {"channel": "email"}),
        (RuleInput(campaign=("spring",)), {"campaign": "spring"}, {"campaign": "autumn"}),
        (RuleInput(score_min=60), {"score": 75}, {"score": 10}),
        (RuleInput(tags=("vip",)), {"tag": "vip"}, {"tag": "cold"}),
    ],
)
def test_each_kind_of_rule_sends_matching_leads_to_its_rep_and_others_on(
    session: Session, rule: RuleInput, matching: dict[str, object], other: dict[str, object]
) -> None:
    [wang] = reps(session, "east", 1, prefix="wang")
    [li] = reps(session, "west", 1, prefix="li")
    rules(
        session,
        RuleInput(**{**rule.__dict__, "name": "", "owner": "wang1"}),
        RuleInput(name="rest", owner="li1"),
    )

    def make(values: dict[str, object]) -> Customer:
        values = dict(values)
        score, tag, campaign = (
            values.pop("score", None),
            values.pop("tag", None),
            values.pop("campaign", None),
        )
        customer = lead(session, **values)
        customer.score, customer.campaign = score, campaign  # type: ignore[assignment]
        if tag:
            item = session.scalar(select(ListItem).where(ListItem.list_name == "tag", ListItem.code == tag))
            if item is None:
                save_value(session, "tag", code=str(tag))
                item = session.scalar(
                    select(ListItem).where(ListItem.list_name == "tag", ListItem.code == tag)
                )
            assert item is not None
            session.add(CustomerTag(customer_id=customer.id, tag_id=item.id))
        session.flush()
        return customer

    hit, miss = make(matching), make(other)
    route_many(session, [hit.id, miss.id], actor=SYSTEM)
    session.refresh(hit)
    session.refresh(miss)

    assert hit.owner_id == wang.id
    assert describe_reason(hit.assignment_reason, "en").startswith("rule 1: ")
    assert miss.owner_id == li.id
    assert describe_reason(miss.assignment_reason, "en") == "rule 2: rest -> Li 1, 1 open"


def test_round_robin_over_1000_leads_gives_each_rep_the_same_within_one(session: Session) -> None:
    team = reps(session, "east", 7)
    rules(session, RuleInput(name="all", team="east"))
    ids = [lead(session).id for _ in range(1000)]

    decisions = route_many(session, ids, actor=SYSTEM)

    counts = Counter(d.owner_id for d in decisions.values())
    assert set(counts) == {u.id for u in team}
    assert max(counts.values()) - min(counts.values()) <= 1
    assert session.get(RoutingCursor, "east").last_user_id == decisions[ids[-1]].owner_id  # type: ignore[union-attr]


def test_the_round_robin_cursor_carries_over_between_routings(engine: Engine) -> None:
    with session_scope(engine) as session:
        team = reps(session, "east", 3)
        rules(session, RuleInput(name="all", team="east"))
    owners = []
    for _ in range(6):  # one lead per transaction, as the handler routes a form's lead
        with session_scope(engine) as session:
            customer = lead(session)
            owners.append(routed(session, customer).owner_id)
    ids = [u.id for u in team]
    assert owners == ids + ids


def test_least_loaded_picks_the_rep_with_fewest_open_leads_and_says_so(session: Session) -> None:
    busy, idle = reps(session, "east", 2)
    for _ in range(3):
        lead(session, owner_id=busy.id)
    lead(session, owner_id=idle.id)
    rules(session, RuleInput(name="East", region=("华东",), team="east", method="least_loaded"))

    customer = routed(session, lead(session, region="华东"))

    assert customer.owner_id == idle.id
    assert customer.team == "east"
    text = describe_reason(customer.assignment_reason, "en")
    assert text == "rule 1: East -> team east, least loaded: East 2, 2 open"


def test_away_reps_and_reps_at_their_cap_are_skipped(session: Session) -> None:
    a, b, c = reps(session, "east", 3)
    set_availability(session, actor=SYSTEM, user_id=a.id, away=True, max_open_leads=None)
    set_availability(session, actor=SYSTEM, user_id=b.id, away=False, max_open_leads=1)
    lead(session, owner_id=b.id)  # b is at their cap
    rules(session, RuleInput(name="all", team="east"))

    owners = {routed(session, lead(session)).owner_id for _ in range(4)}

    assert owners == {c.id}


def test_the_default_cap_applies_to_reps_without_their_own(session: Session) -> None:
    a, b = reps(session, "east", 2)
    rules(session, RuleInput(name="all", team="east"), max_open_leads=2, fallback_queue="intake")

    owners = [routed(session, lead(session)).owner_id for _ in range(5)]

    assert Counter(owners) == {a.id: 2, b.id: 2, None: 1}


def test_a_full_team_falls_through_to_the_next_rule_then_the_fallback_owner(session: Session) -> None:
    [east] = reps(session, "east", 1)
    set_availability(session, actor=SYSTEM, user_id=east.id, away=True, max_open_leads=None)
    [boss] = reps(session, "hq", 1, prefix="boss")
    rules(session, RuleInput(name="East", team="east"), fallback_owner="boss1")

    customer = routed(session, lead(session))

    assert customer.owner_id == boss.id
    assert describe_reason(customer.assignment_reason, "en") == (
        "no rule placed it -> fallback owner Boss 1 (rules 1 matched but nobody there could take it)"
    )


def test_the_fallback_queue_leaves_the_lead_unowned_in_the_queue_team(session: Session) -> None:
    reps(session, "east", 1)
    rules(session, RuleInput(name="East only", region=("华东",), team="east"), fallback_queue="intake")

    customer = routed(session, lead(session, region="华南"))

    assert (customer.owner_id, customer.team) == (None, "intake")
    assert describe_reason(customer.assignment_reason, "zh") == "没有规则能安置 -> 队列 intake(未分配)"


def test_without_rules_or_fallback_routing_changes_nothing(session: Session) -> None:
    customer = routed(session, lead(session))
    assert (customer.owner_id, customer.assignment_reason) == (None, None)


def test_routing_audits_and_tells_the_new_owner_in_their_language(session: Session) -> None:
    [wang] = reps(session, "east", 1, prefix="wang")
    rules(session, RuleInput(name="华东 + 教育", region=("华东",), industry=("教育",), team="east"))

    customer = routed(session, lead(session, region="华东", industry="教育"))

    [item] = inbox(session, wang.id, lang="en")
    assert item.text == (
        f"New lead {customer.customer_no} {customer.name} is yours "
        "(rule 1: 华东 + 教育 -> team east, round robin: Wang 1, 1 open)"
    )
    assert inbox(session, wang.id, lang="zh")[0].text.endswith(
        "(规则 1:华东 + 教育 -> 团队 east,轮流分配:Wang 1,1 条进行中)"
    )
    assert item.customer_id == customer.id
    audit = session.scalars(
        select(AuditLog).where(AuditLog.customer_id == customer.id, AuditLog.action == "assign")
    ).one()
    assert audit.changes["owner_id"] == [None, wang.id]  # type: ignore[index]
    assert str(audit.changes["assignment_reason"][1]).startswith("rule 1")  # type: ignore[index]


def test_a_lead_with_an_owner_is_not_rerouted(session: Session) -> None:
    a, _b = reps(session, "east", 2)
    rules(session, RuleInput(name="all", owner="east2"))
    customer = routed(session, lead(session, owner_id=a.id))
    assert customer.owner_id == a.id


def test_a_new_unowned_lead_is_routed_after_its_commit(engine: Engine) -> None:
    with session_scope(engine) as session:
        [wang] = reps(session, "east", 1, prefix="wang")
        rules(session, RuleInput(name="web", channel=("web",), owner="wang1"))
    with session_scope(engine) as session:
        customer_id = lead(session, channel="web").id  # no owner: the LeadCreated handler routes it

    with session_scope(engine) as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None and customer.owner_id == wang.id
        assert describe_reason(customer.assignment_reason, "en") == "rule 1: web -> Wang 1, 1 open"
        assert unread_count(session, wang.id) == 1


def test_reassigning_many_tells_each_new_owner_once_and_audits_each(session: Session) -> None:
    rep, manager = reps(session, "east", 2)
    manager.role = "manager"
    session.flush()
    customers = [lead(session, owner_id=rep.id) for _ in range(3)]
    actor = Actor.of(manager)

    count = reassign_many(session, actor=actor, customer_ids=[c.id for c in customers], owner_id=rep.id)
    assert count == 3
    assert unread_count(session, rep.id) == 0  # already theirs: nobody is told of no change

    [other] = reps(session, "east", 1, prefix="other")
    reassign_many(session, actor=actor, customer_ids=[c.id for c in customers], owner_id=other.id)

    assert unread_count(session, other.id) == 3
    assert describe_reason(customers[0].assignment_reason, "en") == "assigned by East 2"
    assigns = session.scalar(
        select(func.count()).where(
            AuditLog.action == "assign", AuditLog.customer_id.in_([c.id for c in customers])
        )
    )
    assert assigns == 6


def test_one_reassignment_on_the_customer_page_tells_the_new_owner(session: Session) -> None:
    a, b = reps(session, "east", 2)
    customer = lead(session, owner_id=a.id)
    assign_customer(session, actor=SYSTEM, customer_id=customer.id, owner_id=b.id)
    [item] = inbox(session, b.id, lang="en")
    assert item.text == f"System gave you lead {customer.customer_no} {customer.name}"


def test_a_bad_rule_set_is_refused_whole_naming_rule_and_field(session: Session) -> None:
    reps(session, "east", 1)
    rules(session, RuleInput(name="keep me", team="east"))
    session.commit()
    bad = RuleSet(
        rules=[
            RuleInput(name="ok", team="east"),
            RuleInput(name="nobody", owner="ghost"),
            RuleInput(name="both", owner="east1", team="east"),
            RuleInput(name="method", team="east", method="random", score_min="high"),
        ],
        fallback_owner="ghost",
    )
    with pytest.raises(ValidationError) as caught:
        replace_rules(session, actor=SYSTEM, rule_set=bad)
    assert [(e.field, e.code) for e in caught.value.errors] == [
        ("rule2.owner", "routing.error.unknown_user"),
        ("rule3.owner", "routing.error.one_target"),
        ("rule4.score_min", "routing.error.not_a_number"),
        ("rule4.method", "routing.error.method"),
        ("fallback_owner", "routing.error.fallback_owner"),
    ]
    session.rollback()
    assert [r.name for r in current_rule_set(session).rules] == ["keep me"]


def test_a_rep_may_not_change_the_rules(session: Session, role_users: dict[str, User]) -> None:
    from funnel.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        replace_rules(session, actor=Actor.of(role_users["rep"]), rule_set=RuleSet())


def test_preview_says_who_would_get_a_lead_without_moving_the_cursor(session: Session) -> None:
    a, _b = reps(session, "east", 2)
    rules(session, RuleInput(name="all", team="east"))
    session.commit()

    first = preview(session, actor=SYSTEM, lead=LeadFacts(region="华东"))
    second = preview(session, actor=SYSTEM, lead=LeadFacts(region="华东"))

    assert first.owner_id == second.owner_id == a.id
    assert session.get(RoutingCursor, "east") is None


@pytest.mark.parametrize("route", [True, False])
def test_import_routes_rows_without_an_owner_unless_told_not_to(
    engine: Engine, tmp_path, route: bool
) -> None:
    from funnel.capture.importer import import_file

    with session_scope(engine) as session:
        a, b = reps(session, "east", 2)
        rules(session, RuleInput(name="all", team="east"))
    path = tmp_path / "leads.csv"
    path.write_text("name,email,owner\nA,a@x.com,\nB,b@x.com,\nC,c@x.com,East 1\n", encoding="utf-8")

    report = import_file(engine, path, actor=SYSTEM, route=route)

    with session_scope(engine) as session:
        stored = {c.name: c for c in session.scalars(select(Customer))}
        assert report.routed == (2 if route else 0)
        assert stored["C"].owner_id == a.id  # the file's owner is kept
        if route:
            assert {stored["A"].owner_id, stored["B"].owner_id} == {a.id, b.id}
        else:
            assert stored["A"].owner_id is None
            assert (
                describe_reason(stored["A"].assignment_reason, "en")
                == "imported with --no-route: left unassigned"
            )


def test_an_import_routes_on_tags_and_scores_as_the_form_does(engine: Engine, tmp_path) -> None:
    from funnel.capture.importer import import_file

    with session_scope(engine) as session:
        save_value(session, "tag", code="vip")
        (vip_rep,) = reps(session, "key", 1)
        other = reps(session, "east", 1)[0]
        rules(
            session,
            RuleInput(name="vip", tags=("vip",), owner=vip_rep.username),
            RuleInput(name="rest", team="east"),
        )
    path = tmp_path / "leads.csv"
    path.write_text("name,email,tags\nA,a@x.com,vip\nB,b@x.com,\n", encoding="utf-8")

    assert import_file(engine, path, actor=SYSTEM).routed == 2

    with session_scope(engine) as session:
        owners = {c.name: (c.owner_id, c.score) for c in session.scalars(select(Customer))}
    assert owners["A"][0] == vip_rep.id and owners["B"][0] == other.id
    assert owners["A"][1] is not None  # scored in the import's transaction, before routing

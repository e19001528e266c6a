"""The customer read models behind the leads list and the customer page, on each backend."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM, Actor
from funnel.accounts.users import UserInput, add_user, update_user
from funnel.audit.read import customer_history
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.errors import FieldError, PermissionDenied, StaleEdit, ValidationError
from funnel.customers.edit import (
    assign_customer,
    assignable_users,
    share_customer,
    unshare_customer,
    update_customer,
)
from funnel.customers.read import customer_detail, get_customer, list_customers
from funnel.customers.stages import move_stage
from funnel.store.models import Contact, Customer, Objection, User

NOW = datetime(2026, 11, 2, 9, 0)
ROLES = ("rep", "manager", "leader", "delivery", "admin")


@pytest.fixture
def actors(role_users: dict[str, User]) -> dict[str, Actor]:
    """One actor per role (display name = username in upper case) and a second rep."""
    return {name: Actor.of(user) for name, user in role_users.items()}


def lead(session: Session, actor: Actor, name: str, **fields: object) -> Customer:
    return create_lead(
        session, LeadInput(name=name, email=f"{name.lower().replace(' ', '.')}@x.cn", **fields), actor=actor
    )  # type: ignore[arg-type]


# (hours since creation, status, contacted) -> overdue, with the default 24 h first-contact SLA
OVERDUE_CASES = [
    (30, "open", False, True),
    (23, "open", False, False),
    (30, "open", True, False),
    (30, "won", False, False),
    (30, "lost", False, False),
]  # fmt: skip


@pytest.mark.parametrize(("hours", "status", "contacted", "overdue"), OVERDUE_CASES)
def test_the_list_flags_open_leads_not_contacted_within_the_sla(
    session, actors, hours, status, contacted, overdue
):
    stage = "contact" if contacted else None
    lead(
        session,
        actors["rep"],
        "Lead",
        created_at=NOW - timedelta(hours=hours),
        status=status,
        stage=stage,
        lost_reason="x",
    )
    session.commit()

    frame = list_customers(session, actor=actors["rep"], now=NOW)

    assert frame["first_contact_overdue"].tolist() == [overdue]
    assert frame["first_contact_overdue"].dtype == bool


def test_the_list_finds_a_phone_typed_with_spaces_and_only_within_the_actors_customers(session, actors):
    lead(session, actors["rep"], "Mine", phone="13812345678")
    lead(session, actors["rep2"], "Theirs", phone="13812349999")
    session.commit()

    assert list_customers(session, actor=actors["rep"], search="138 1234")["name"].tolist() == ["Mine"]
    assert sorted(list_customers(session, actor=actors["manager"], search="138-1234")["name"]) == [
        "Mine",
        "Theirs",
    ]
    assert list_customers(session, actor=actors["rep"], search="mine@x")["name"].tolist() == ["Mine"]


def test_the_detail_holds_contacts_stage_history_deals_objections_and_shares(session, actors):
    rep = actors["rep"]
    customer = lead(
        session,
        rep,
        "Acme",
        company="Acme Ltd",
        phone="13812345678",
        amount=Decimal("1200"),
        grade="a",
        created_at=NOW - timedelta(days=1),
    )
    session.add(Contact(customer_id=customer.id, name="Ms Li", title="CFO", is_decision_maker=True))
    session.add(Objection(customer_id=customer.id, category="price", detail="too dear", stage="lead"))
    move_stage(session, actor=rep, customer_id=customer.id, to_stage="qualify", at=NOW)
    share_customer(session, actor=actors["manager"], customer_id=customer.id, user_id=actors["rep2"].user_id)
    session.commit()

    detail = customer_detail(session, actor=rep, customer_id=customer.id, now=NOW)

    assert (detail.customer_no, detail.name, detail.stage, detail.status) == (
        customer.customer_no,
        "Acme",
        "qualify",
        "open",
    )
    assert (detail.owner, detail.owner_id, detail.fields["company"], detail.fields["grade"]) == (
        "REP",
        rep.user_id,
        "Acme Ltd",
        "A",
    )
    assert detail.version == customer.version
    assert detail.first_contacted_at == NOW
    assert not detail.first_contact_overdue
    assert detail.contacts["name"].tolist() == ["Acme", "Ms Li"]  # the primary contact first
    assert detail.contacts["phone"].tolist()[0] == "13812345678"
    events = detail.stage_events.astype(object).where(detail.stage_events.notna(), None)
    assert events[["from_stage", "to_stage", "by"]].to_numpy().tolist() == [
        [None, "lead", "REP"],
        ["lead", "qualify", "REP"],
    ]
    assert detail.opportunities["amount"].tolist() == [Decimal("1200.00")]
    assert detail.objections[["category", "detail"]].to_numpy().tolist() == [["price", "too dear"]]
    assert detail.shared_with == ("REP2",)


def test_the_detail_is_refused_to_a_rep_who_may_not_see_the_customer(session, actors):
    theirs = lead(session, actors["rep2"], "Theirs")
    session.commit()

    with pytest.raises(PermissionDenied):
        customer_detail(session, actor=actors["rep"], customer_id=theirs.id)
    with pytest.raises(PermissionDenied):
        customer_history(session, actor=actors["rep"], customer_id=theirs.id)
    with pytest.raises(LookupError):
        customer_detail(session, actor=actors["rep"], customer_id=theirs.id + 1000)


def test_the_history_lists_each_changed_field_with_old_and_new_values_and_names_users(session, actors):
    rep, manager = actors["rep"], actors["manager"]
    customer = lead(session, rep, "Acme", company="Acme Ltd")
    update_customer(
        session,
        actor=rep,
        customer_id=customer.id,
        changes={"company": "Acme Group"},
        expected_version=customer.version,
    )
    assign_customer(session, actor=manager, customer_id=customer.id, owner_id=actors["rep2"].user_id)
    share_customer(session, actor=manager, customer_id=customer.id, user_id=rep.user_id)
    session.commit()

    history = customer_history(session, actor=manager, customer_id=customer.id)
    rows = (
        history[history["action"] != "create"][["user", "action", "field", "old", "new"]].to_numpy().tolist()
    )

    assert ["MANAGER", "share", "shared_with", None, "REP"] in rows
    assert ["MANAGER", "assign", "owner_id", "REP", "REP2"] in rows
    assert ["REP", "update", "company", "Acme Ltd", "Acme Group"] in rows
    assert history["at"].is_monotonic_decreasing
    created = history[history["action"] == "create"].set_index("field")
    assert created.loc["name", "new"] == "Acme"


def test_customers_can_be_assigned_to_active_users_who_work_customers(session, actors):
    update_user(session, "rep2", actor=SYSTEM, is_active=False)
    session.commit()

    choices = assignable_users(session, actor=actors["manager"])

    assert sorted(u.display_name for u in choices) == ["ADMIN", "MANAGER", "REP"]
    assert {u.role for u in choices} == {"rep", "manager", "admin"}
    with pytest.raises(PermissionDenied):
        assignable_users(session, actor=actors["rep"])


# target of an assignment or a share -> the error code, None when allowed
ASSIGNEES = [
    ("rep2", None),
    ("manager", None),
    ("leader", "error.assignee_invalid"),  # reads customers, does not work them
    ("delivery", "error.assignee_invalid"),
    ("retired", "error.assignee_invalid"),  # an inactive rep
    ("nobody", "error.assignee_invalid"),  # no such user
]  # fmt: skip


@pytest.mark.parametrize(("target", "code"), ASSIGNEES)
def test_a_customer_is_assigned_or_shared_only_to_an_active_user_who_works_customers(
    session, actors, target, code
):
    retired = add_user(
        session, UserInput(username="retired", role="rep", is_active=False), password=None, actor=SYSTEM
    )
    ids = {name: actor.user_id for name, actor in actors.items()} | {"retired": retired.id, "nobody": 10_000}
    customer = lead(session, actors["rep"], "Acme")
    manager = actors["manager"]
    attempts = {
        "owner_id": lambda: assign_customer(
            session, actor=manager, customer_id=customer.id, owner_id=ids[target]
        ),
        "user_id": lambda: share_customer(
            session, actor=manager, customer_id=customer.id, user_id=ids[target]
        ),
    }

    for field, attempt in attempts.items():
        if code is None:
            attempt()
        else:
            with pytest.raises(ValidationError) as raised:
                attempt()
            assert raised.value.errors == [FieldError(field, code)]


@pytest.fixture
def teams(session: Session, actors: dict[str, Actor]) -> dict[str, Actor]:
    """manager and rep form team east; rep2 and a second manager, west_mgr, team west; admin has no team."""
    for username, team in (("manager", "east"), ("rep", "east"), ("rep2", "west")):
        update_user(session, username, actor=SYSTEM, team=team)
    west_mgr = add_user(
        session, UserInput(username="west_mgr", role="manager", team="west"), password=None, actor=SYSTEM
    )
    session.commit()
    return {name: Actor.of(session.get(User, actor.user_id)) for name, actor in actors.items()} | {
        "west_mgr": Actor.of(west_mgr)
    }


def test_a_team_manager_assigns_and_shares_within_the_team_only(session, teams):
    manager, rep, rep2 = teams["manager"], teams["rep"], teams["rep2"]
    customer = lead(session, rep, "Acme")

    with pytest.raises(ValidationError) as assigned:
        assign_customer(session, actor=manager, customer_id=customer.id, owner_id=rep2.user_id)
    with pytest.raises(ValidationError) as shared:
        share_customer(session, actor=manager, customer_id=customer.id, user_id=rep2.user_id)

    assert assigned.value.errors == [FieldError("owner_id", "error.assignee_other_team", {"team": "east"})]
    assert shared.value.errors == [FieldError("user_id", "error.assignee_other_team", {"team": "east"})]
    share_customer(session, actor=manager, customer_id=customer.id, user_id=manager.user_id)
    # A manager without a team (or an admin) reaches every team.
    assign_customer(session, actor=teams["admin"], customer_id=customer.id, owner_id=rep2.user_id)


@pytest.mark.parametrize("chooser", ["manager", "west_mgr", "admin"])
def test_the_users_offered_are_exactly_those_an_assignment_accepts(session, teams, chooser):
    actor = teams[chooser]
    customer = lead(session, SYSTEM, "Unowned", team=actor.team)  # in the intake the chooser reaches
    session.commit()

    offered = {user.id for user in assignable_users(session, actor=actor)}
    accepted = set()
    for user_id in session.scalars(select(User.id)):
        try:
            with session.begin_nested():
                assign_customer(session, actor=actor, customer_id=customer.id, owner_id=user_id)
            accepted.add(user_id)
        except ValidationError:
            pass

    assert offered == accepted
    expected = {
        "manager": {"manager", "rep"},
        "west_mgr": {"west_mgr", "rep2"},
        "admin": {"manager", "rep", "rep2", "west_mgr", "admin"},
    }
    assert {session.get(User, user_id).username for user_id in offered} == expected[chooser]


def test_saving_an_unchanged_edit_writes_no_audit_row_and_keeps_the_version(session, actors):
    rep = actors["rep"]
    customer = lead(session, rep, "Acme", company="Acme Ltd", grade="A")
    session.commit()
    version = customer.version

    update_customer(
        session,
        actor=rep,
        customer_id=customer.id,
        changes={"name": " Acme ", "company": "Acme Ltd", "grade": "a", "region": ""},
        expected_version=version,
    )
    session.commit()

    assert customer.version == version
    assert customer_history(session, actor=rep, customer_id=customer.id)["action"].unique().tolist() == [
        "create"
    ]


def test_a_stage_move_meanwhile_does_not_make_the_details_form_stale(session, actors):
    # The form was filled at `version`; the rep then moved the stage (a new version, the form's fields
    # untouched): the edit goes through. A field saved meanwhile by someone else is still refused.
    rep = actors["rep"]
    customer = lead(session, rep, "Acme", company="Acme Ltd")
    session.commit()
    version = customer.version
    loaded = customer_detail(session, actor=rep, customer_id=customer.id).fields
    move_stage(session, actor=rep, customer_id=customer.id, to_stage="first_contact")
    session.commit()
    assert customer.version != version
    update_customer(
        session, actor=rep, customer_id=customer.id, changes={"company": "Acme Group"},
        expected_version=version, loaded=loaded,
    )  # fmt: skip
    session.commit()
    assert customer.company == "Acme Group"
    with pytest.raises(StaleEdit):
        update_customer(
            session, actor=rep, customer_id=customer.id, changes={"company": "Acme Holdings"},
            expected_version=version, loaded=loaded,
        )  # fmt: skip


def test_the_history_of_an_imported_customer_edited_later_reads_without_error(session, actors, tmp_path):
    # The import's audit rows have no user: pandas hands the reader NaN for them, which once went to
    # SQL as a float among the usernames (issue: a customer page crashed for imported customers).
    from funnel.capture.importer import import_rows

    import_rows(session, [{"name": "Imported", "email": "imp@x.cn", "external_id": "i-1"}], actor=SYSTEM)
    customer = session.scalars(select(Customer).where(Customer.external_id == "i-1")).one()
    for n in range(3):
        update_customer(session, actor=actors["manager"], customer_id=customer.id,
                        changes={"company": f"Co {n}"}, expected_version=customer.version)  # fmt: skip
    session.commit()

    history = customer_history(session, actor=actors["manager"], customer_id=customer.id)

    assert set(history["user"]) == {None, "MANAGER"}
    assert len(history[history["action"] == "update"]) == 3


def test_a_share_can_be_revoked_and_the_revocation_is_audited(session, actors):
    rep, manager = actors["rep"], actors["manager"]
    customer = lead(session, actors["rep2"], "Shared Co")
    share_customer(session, actor=manager, customer_id=customer.id, user_id=rep.user_id)
    assert get_customer(session, actor=rep, customer_id=customer.id) is customer

    unshare_customer(session, actor=manager, customer_id=customer.id, user_id=rep.user_id)
    session.commit()

    with pytest.raises(PermissionDenied):
        get_customer(session, actor=rep, customer_id=customer.id)
    with pytest.raises(ValidationError) as caught:
        unshare_customer(session, actor=manager, customer_id=customer.id, user_id=rep.user_id)
    assert caught.value.errors[0].code == "error.not_shared"
    with pytest.raises(PermissionDenied):  # a rep may not take shares back
        unshare_customer(session, actor=actors["rep2"], customer_id=customer.id, user_id=rep.user_id)
    history = customer_history(session, actor=manager, customer_id=customer.id)
    assert ["MANAGER", "unshare", "shared_with", "REP", None] in history[
        ["user", "action", "field", "old", "new"]
    ].to_numpy().tolist()


def test_search_matches_percent_and_underscore_literally_and_refuses_nul_and_long_text(session, actors):
    manager = actors["manager"]
    lead(session, SYSTEM, "100% Cotton", company="a_b")
    lead(session, SYSTEM, "Plain")
    session.commit()

    assert list(list_customers(session, actor=manager, search="%")["name"]) == ["100% Cotton"]
    assert list(list_customers(session, actor=manager, search="a_b")["name"]) == ["100% Cotton"]
    assert list(list_customers(session, actor=manager, search="_")["name"]) == ["100% Cotton"]
    for typed, code in (("ab\x00c", "error.invalid_characters"), ("x" * 201, "error.too_long")):
        with pytest.raises(ValidationError) as caught:
            list_customers(session, actor=manager, search=typed)
        assert [(e.field, e.code) for e in caught.value.errors] == [("search", code)]


@pytest.mark.parametrize("customer_id", [0, -1, 2**31, 10**20])
def test_an_id_no_customer_can_have_is_not_found_rather_than_a_database_error(session, actors, customer_id):
    from funnel.core.errors import NotFound

    with pytest.raises(NotFound):
        get_customer(session, actor=actors["manager"], customer_id=customer_id)
    with pytest.raises(NotFound):
        move_stage(session, customer_id=customer_id, to_stage="contact", actor=actors["manager"])


def test_the_list_filters_by_stage_grade_score_and_pages_in_sql(session, actors):
    for i in range(5):
        lead(session, actors["rep"], f"Filtered {i}", grade="A" if i % 2 else "B")
    from funnel.customers.read import LeadFilters

    found = list_customers(session, actor=actors["manager"], filters=LeadFilters(grades=("A",)))
    assert sorted(found["name"]) == ["Filtered 1", "Filtered 3"]
    first = list_customers(session, actor=actors["manager"], limit=2)
    second = list_customers(session, actor=actors["manager"], limit=2, offset=2)
    assert len(first) == len(second) == 2 and not set(first["id"]) & set(second["id"])
    none = list_customers(session, actor=actors["manager"], filters=LeadFilters(stages=("closing",)))
    assert none.empty


def test_an_exact_customer_number_finds_that_customer_only(session, actors):
    wanted = lead(session, actors["rep"], "Exact one")
    lead(session, actors["rep"], "Exact two")
    found = list_customers(session, actor=actors["rep"], search=wanted.customer_no.lower())
    assert found["name"].tolist() == ["Exact one"]


def test_add_tags_links_each_customer_once_and_refuses_an_unknown_tag(session, actors):
    from funnel.customers.lists import save_value
    from funnel.customers.tag_links import add_tags
    from funnel.store.models import CustomerTag

    save_value(session, "tag", code="vip", name_en="VIP", name_zh="重要客户")
    ids = [lead(session, actors["rep"], f"Tagged {i}").id for i in range(2)]
    assert add_tags(session, actors["manager"], ids, ["VIP"]) == 2
    assert add_tags(session, actors["manager"], ids, ["vip"]) == 0  # already linked
    assert session.query(CustomerTag).count() == 2
    assert list_customers(session, actor=actors["manager"], search="重要客户")["id"].tolist() != []
    with pytest.raises(ValidationError) as caught:
        add_tags(session, actors["manager"], ids, ["nope"])
    assert caught.value.errors[0].field == "tags"
    with pytest.raises(PermissionDenied):
        add_tags(session, actors["rep"], ids, ["vip"])

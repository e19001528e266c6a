"""Accounts, lock-out, permissions per role (run for real against the use cases) and the audit trail."""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import String, cast, func, inspect, literal_column, select, text
from sqlalchemy.exc import SQLAlchemyError

from funnel.access.permissions import SYSTEM, Actor
from funnel.accounts.passwords import hash_password
from funnel.accounts.signin import authenticate
from funnel.accounts.users import UserInput, add_user, set_password, update_user
from funnel.analytics.report import build_report
from funnel.audit.read import audit_entries
from funnel.capture.leads import LeadInput, create_lead
from funnel.cli.main import main
from funnel.core.errors import PermissionDenied, ValidationError
from funnel.customers.edit import assign_customer, delete_customer, share_customer, update_customer
from funnel.customers.read import get_customer, list_customers
from funnel.customers.stages import move_stage
from funnel.store.models import AuditLog, Customer, User
from tests.conftest import ROLE_PASSWORD

PASSWORD = ROLE_PASSWORD
ROLES = ("rep", "manager", "leader", "delivery", "admin")


@pytest.fixture
def team(session, role_users):
    """One user per role plus a second rep; rep owns an open lead, rep2 a won customer."""
    users = role_users
    actors = {name: Actor.of(user) for name, user in users.items()}
    own = create_lead(session, LeadInput(name="Own lead", email="own@x.cn"), actor=actors["rep"])
    other = create_lead(
        session, LeadInput(name="Other's", email="other@x.cn", status="won"), actor=actors["rep2"]
    )
    session.commit()
    return {"users": users, "actors": actors, "own": own, "other": other}


def test_passwords_are_stored_only_as_argon2_hashes(session, team):
    stored = session.scalars(select(User.password_hash)).all()

    assert all(h.startswith("$argon2id$") for h in stored)
    dump = json.dumps([list(r) for r in session.execute(select(AuditLog.changes, AuditLog.action)).all()])
    assert PASSWORD not in dump
    assert PASSWORD not in " ".join(stored)


def test_the_right_password_signs_in_and_a_wrong_one_does_not(session, team):
    assert authenticate(session, "REP", PASSWORD).user is team["users"]["rep"]
    assert authenticate(session, "rep", "wrong").error == "login.failed"
    assert authenticate(session, "nobody", PASSWORD).error == "login.failed"


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(session, team):
    now = datetime(2026, 11, 1, 9, 0)
    results = [authenticate(session, "rep", "wrong", now=now) for _ in range(5)]
    session.commit()

    # The lock is not announced: the fifth failure looks like the first four.
    assert [r.error for r in results] == ["login.failed"] * 5
    assert {r.locked_until for r in results} == {None}
    locked = authenticate(session, "rep", PASSWORD, now=now + timedelta(minutes=14))
    assert (locked.user, locked.error) == (None, "login.failed")
    assert authenticate(session, "rep", PASSWORD, now=now + timedelta(minutes=16)).user is not None
    actions = session.scalars(select(AuditLog.action).where(AuditLog.action.like("%lock%"))).all()
    assert actions == ["account_locked", "login_refused_locked"]


def test_the_lockout_threshold_is_configurable(session, team, monkeypatch):
    from funnel.core.settings import get_settings

    monkeypatch.setenv("CRM_MAX_FAILED_LOGINS", "2")
    get_settings.cache_clear()

    authenticate(session, "rep", "x")
    authenticate(session, "rep", "x")

    assert authenticate(session, "rep", PASSWORD).user is None
    assert session.scalars(select(AuditLog.action)).all()[-1] == "login_refused_locked"


def test_a_disabled_user_cannot_sign_in(session, team):
    update_user(session, "rep", actor=SYSTEM, is_active=False)

    assert authenticate(session, "rep", PASSWORD).error == "login.failed"
    assert session.scalars(select(AuditLog.action)).all()[-1] == "login_refused_disabled"


# (role, use case, on whose customer) -> allowed
PERMISSIONS = [
    ("rep", "read", "own", True), ("rep", "read", "other", False),
    ("rep", "edit", "own", True), ("rep", "edit", "other", False),
    ("rep", "move", "own", True), ("rep", "move", "other", False),
    ("rep", "assign", "own", False), ("rep", "delete", "own", False), ("rep", "create", None, True),
    ("manager", "read", "other", True), ("manager", "edit", "other", True), ("manager", "assign", "own", True),
    ("manager", "delete", "own", True), ("manager", "create", None, True),
    ("leader", "read", "other", True), ("leader", "edit", "own", False), ("leader", "move", "own", False),
    ("leader", "create", None, False), ("leader", "assign", "own", False),
    ("delivery", "read", "other", True), ("delivery", "read", "own", False), ("delivery", "edit", "other", False),
    ("delivery", "create", None, False),
    ("admin", "read", "own", True), ("admin", "edit", "other", True), ("admin", "delete", "other", True),
]  # fmt: skip


def _attempt(session, team, role, action, whose):
    actor = team["actors"][role]
    customer = team.get(whose)
    if action == "read":
        get_customer(session, actor=actor, customer_id=customer.id)
    elif action == "edit":
        update_customer(
            session,
            actor=actor,
            customer_id=customer.id,
            changes={"grade": "A"},
            expected_version=customer.version,
        )
    elif action == "move":
        move_stage(session, actor=actor, customer_id=customer.id, to_stage="contact")
    elif action == "assign":
        assign_customer(session, actor=actor, customer_id=customer.id, owner_id=team["users"]["rep2"].id)
    elif action == "delete":
        delete_customer(session, actor=actor, customer_id=customer.id)
    elif action == "create":
        create_lead(session, LeadInput(name="New", email="new@x.cn"), actor=actor)


@pytest.mark.parametrize(("role", "action", "whose", "allowed"), PERMISSIONS)
def test_each_role_against_each_use_case(session, team, role, action, whose, allowed):
    if allowed:
        _attempt(session, team, role, action, whose)
    else:
        with pytest.raises(PermissionDenied):
            _attempt(session, team, role, action, whose)


def test_a_rep_lists_and_counts_only_their_own_customers_and_a_manager_all(session, team):
    rep, manager = team["actors"]["rep"], team["actors"]["manager"]

    assert list_customers(session, actor=rep)["name"].tolist() == ["Own lead"]
    assert sorted(list_customers(session, actor=manager)["name"]) == ["Other's", "Own lead"]
    # Analytics scope themselves by the actor: no caller passes a scope.
    assert build_report(session, actor=rep).overall.total == 1
    assert build_report(session, actor=manager).overall.total == 2


def test_a_customer_shared_with_a_rep_becomes_visible_to_them(session, team):
    rep = team["actors"]["rep"]
    with pytest.raises(PermissionDenied):
        get_customer(session, actor=rep, customer_id=team["other"].id)

    share_customer(
        session, actor=team["actors"]["manager"], customer_id=team["other"].id, user_id=rep.user_id
    )

    assert get_customer(session, actor=rep, customer_id=team["other"].id) is team["other"]


def test_a_rep_creating_a_duplicate_of_another_reps_lead_learns_nothing_about_it(session, team):
    with pytest.raises(ValidationError) as raised:
        create_lead(session, LeadInput(name="Dup", email="other@x.cn"), actor=team["actors"]["rep"])

    assert raised.value.errors[0].code == "error.duplicate_hidden"
    assert raised.value.errors[0].params == {}


def test_an_edit_writes_who_when_which_record_and_each_fields_old_and_new_value(session, team):
    rep, own = team["actors"]["rep"], team["own"]
    update_customer(
        session,
        actor=rep,
        customer_id=own.id,
        changes={"grade": "b", "company": "新公司"},
        expected_version=own.version,
    )
    session.commit()

    entry = audit_entries(session, actor=rep, customer_id=own.id).iloc[0]
    assert (entry["user"], entry["action"], entry["entity"], entry["entity_id"]) == (
        "rep",
        "update",
        "customer",
        own.id,
    )
    assert entry["changes"] == {"grade": [None, "B"], "company": [None, "新公司"]}
    with pytest.raises(PermissionDenied):
        audit_entries(session, actor=rep)  # the whole log is for managers, leaders and admins
    assert len(audit_entries(session, actor=team["actors"]["admin"], action="update")) == 1


def test_assignment_and_deletion_are_audited_and_deletion_keeps_the_trail(session, team):
    admin, own = team["actors"]["admin"], team["own"]
    assign_customer(session, actor=admin, customer_id=own.id, owner_id=team["users"]["rep2"].id)
    delete_customer(session, actor=admin, customer_id=own.id)
    session.commit()

    entries = audit_entries(session, actor=admin, customer_id=None)
    kinds = entries[entries["customer_id"] == own.id]["action"].tolist()
    assert kinds[:2] == ["delete", "assign"]
    assert session.get(Customer, own.id) is None


def test_user_add_reads_the_password_from_stdin_and_report_as_scopes_the_counts(
    session, team, monkeypatch, capsys
):
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-pass\n"))
    assert main(["user", "add", "carol", "--role", "rep", "--name", "Carol 陈", "--password-stdin"]) == 0
    assert authenticate(session, "carol", "s3cret-pass").user is not None
    capsys.readouterr()

    assert main(["report", "--as", "rep", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["overall"]["total"] == 1
    assert main(["report", "--as", "manager", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["overall"]["total"] == 2
    assert main(["report", "--as", "delivery"]) == 3  # delivery reads orders, not analytics


def test_passwd_and_disable_from_the_cli(session, team, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("brand-new-pass\n"))
    assert main(["user", "passwd", "rep", "--password-stdin"]) == 0
    assert main(["user", "disable", "rep2"]) == 0
    session.expire_all()

    assert authenticate(session, "rep", "brand-new-pass").user is not None
    assert authenticate(session, "rep2", PASSWORD).error == "login.failed"


def _text_cells_containing(session, needle: str) -> list[str]:
    """Every table.column whose value, read as text, contains `needle` (all tables, all columns)."""
    inspector = inspect(session.get_bind())
    found = []
    for table in inspector.get_table_names():
        for column in inspector.get_columns(table):
            cell = cast(literal_column(f'"{column["name"]}"'), String)
            query = select(func.count()).select_from(text(f'"{table}"')).where(cell.contains(needle))
            if session.scalar(query):
                found.append(f"{table}.{column['name']}")
    return found


def test_no_plain_password_reaches_the_database(session, team, db_url):
    needle = "needle-in-haystack"
    set_password(session, "rep", needle, actor=SYSTEM)
    authenticate(session, "rep", f"wrong-{needle}")
    authenticate(session, needle, needle)  # typed into the username box as well
    session.commit()

    assert _text_cells_containing(session, "correct horse") == []  # the fixture's password
    assert _text_cells_containing(session, needle) == []
    if db_url.startswith("sqlite"):
        # The file as well: free pages and the write-ahead log keep old bytes that no query shows.
        session.execute(text("PRAGMA wal_checkpoint(FULL)"))
        raw = Path(db_url.removeprefix("sqlite:///")).read_bytes()
        assert needle.encode() not in raw


def test_a_failed_user_save_logs_no_password_hash(engine, team, caplog):
    from funnel.core.db import session_scope

    with caplog.at_level(logging.ERROR):
        try:
            with session_scope(engine) as session:  # "rep" exists: the insert breaks the unique username
                session.add(User(username="rep", display_name="Again", password_hash=hash_password("x")))
        except SQLAlchemyError:  # logged as pages/_shared/admin_parts.save does
            logging.getLogger("pages._shared.admin_parts").exception("saving a user failed")

    assert "IntegrityError" in caplog.text
    assert "$argon2" not in caplog.text


def test_demo_users_sign_in_with_the_printed_demo_password(engine):
    from funnel.core.db import session_scope
    from funnel.demo.generate import DEMO_PASSWORD, generate_demo

    summary = generate_demo(engine, leads=20, seed=1, actor=SYSTEM)
    with session_scope(engine) as s:
        assert {u.role for u in summary.users} == set(ROLES)
        assert authenticate(s, "rep01", DEMO_PASSWORD).user is not None
        assert authenticate(s, "admin", DEMO_PASSWORD).user.role == "admin"


@pytest.fixture
def two_teams(session):
    """Teams east and west, each a manager and a rep with one lead; an admin; a sign-in on record."""
    users = {
        name: add_user(
            session, UserInput(username=name, role=role, team=team), password=PASSWORD, actor=SYSTEM
        )
        for name, role, team in [
            ("east_mgr", "manager", "east"),
            ("east_rep", "rep", "east"),
            ("west_mgr", "manager", "west"),
            ("west_rep", "rep", "west"),
            ("boss", "admin", None),
        ]
    }
    actors = {name: Actor.of(user) for name, user in users.items()}
    leads = {
        team: create_lead(
            session, LeadInput(name=f"{team} lead", email=f"{team}@x.cn"), actor=actors[f"{team}_rep"]
        )
        for team in ("east", "west")
    }
    authenticate(session, "west_rep", PASSWORD)
    session.commit()
    return {"actors": actors, "leads": leads, "users": users}


def test_a_team_manager_reads_the_audit_log_of_their_teams_customers_only(session, two_teams):
    actors, leads = two_teams["actors"], two_teams["leads"]

    east_view = audit_entries(session, actor=actors["east_mgr"])
    everything = audit_entries(session, actor=actors["boss"])

    # Neither the west team's customers nor the rows about users and sign-ins (no customer).
    assert east_view["customer_id"].tolist() == [leads["east"].id]
    assert set(audit_entries(session, actor=actors["west_mgr"])["customer_id"]) == {leads["west"].id}
    assert {leads["east"].id, leads["west"].id} <= set(everything["customer_id"].dropna())
    assert "login" in set(everything["action"])


def test_the_first_run_admin_can_be_created_only_once(engine):
    from funnel.accounts.users import SetupDone, create_first_admin
    from funnel.core.db import session_scope

    with session_scope(engine) as s:
        assert (
            create_first_admin(s, UserInput(username="first", role="rep"), password=PASSWORD).role == "admin"
        )
    with pytest.raises(SetupDone), session_scope(engine) as s:
        create_first_admin(s, UserInput(username="second"), password=PASSWORD)


def test_a_team_manager_sees_only_the_unowned_leads_of_the_team_intake(session, two_teams):
    # An unowned lead belongs to the team of whoever entered it (or the import's team column); a team's
    # manager sees those, not every unowned lead of the company.
    actors = two_teams["actors"]
    east_entry = create_lead(
        session, LeadInput(name="East intake", email="ei@x.cn", team="east"), actor=SYSTEM
    )
    west_entry = create_lead(
        session, LeadInput(name="West intake", email="wi@x.cn", team="west"), actor=SYSTEM
    )
    nobody = create_lead(session, LeadInput(name="Unrouted", email="un@x.cn"), actor=SYSTEM)
    session.commit()

    east = set(list_customers(session, actor=actors["east_mgr"])["name"])
    assert "East intake" in east and "West intake" not in east and "Unrouted" not in east
    assert {"East intake", "West intake", "Unrouted"} <= set(
        list_customers(session, actor=actors["boss"])["name"]
    )
    # Assigning moves a lead into its new owner's team.
    assign_customer(
        session, actor=actors["boss"], customer_id=nobody.id, owner_id=two_teams["users"]["west_rep"].id
    )
    assert nobody.team == "west"
    assert (east_entry.team, west_entry.team) == ("east", "west")

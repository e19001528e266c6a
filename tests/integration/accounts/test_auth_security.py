"""Security review of sign-in and demo data: what the audit log, error messages and demo accounts give away."""

from __future__ import annotations

from typing import Literal

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM
from funnel.accounts import passwords as auth
from funnel.accounts.passwords import hash_password
from funnel.accounts.signin import authenticate, email_verified_claim, sign_in_by_email
from funnel.accounts.users import UserInput, add_user, create_first_admin, set_password
from funnel.core.db import session_scope
from funnel.core.settings import get_settings
from funnel.demo.catalog import DEMO_USERS
from funnel.demo.generate import DEMO_PASSWORD, demo_logins, generate_demo
from funnel.store.models import AuditLog, User

REAL_PASSWORD = "the real admin's pass"
TYPED_BY_MISTAKE = "correct-horse-battery"


@pytest.fixture
def allow_demo(monkeypatch: pytest.MonkeyPatch):
    """Set CRM_ALLOW_DEMO for one test: call with True or False."""

    def set_to(on: bool) -> None:
        monkeypatch.setenv("CRM_ALLOW_DEMO", "1" if on else "0")
        get_settings.cache_clear()

    yield set_to
    get_settings.cache_clear()


def _first_admin_then_demo(engine: Engine, username: str = "boss-admin") -> None:
    with session_scope(engine) as session:
        create_first_admin(session, UserInput(username=username), password=REAL_PASSWORD)
    generate_demo(engine, leads=20, seed=1, actor=SYSTEM)


# --- S1: demo data on a real install -------------------------------------------------------------


def test_demo_data_loaded_after_the_first_admin_adds_no_admin_with_the_demo_password(engine):
    _first_admin_then_demo(engine)

    with session_scope(engine) as session:
        assert authenticate(session, "admin", DEMO_PASSWORD).user is None
        assert authenticate(session, "rep01", DEMO_PASSWORD).user is not None
        admins = session.scalars(select(User.username).where(User.role == "admin")).all()
    assert admins == ["boss-admin"]


def test_a_real_admin_called_admin_keeps_their_own_password_after_demo_data(engine):
    _first_admin_then_demo(engine, username="admin")

    with session_scope(engine) as session:
        assert authenticate(session, "admin", DEMO_PASSWORD).user is None
        assert authenticate(session, "admin", REAL_PASSWORD).user is not None


def test_demo_data_in_an_empty_database_still_brings_its_own_admin(engine):
    summary = generate_demo(engine, leads=20, seed=1, actor=SYSTEM)

    assert "admin" in {user.username for user in summary.users if user.role == "admin"}
    with session_scope(engine) as session:
        assert authenticate(session, "admin", DEMO_PASSWORD).user is not None


def test_leaving_out_the_demo_admin_does_not_change_the_demo_leads(engine, tmp_path):
    from funnel.core.db import make_engine, upgrade
    from funnel.store.models import Customer

    _first_admin_then_demo(engine)
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}", create=True)
    upgrade(empty)
    generate_demo(empty, leads=20, seed=1, actor=SYSTEM)

    def names(eng: Engine) -> list[str]:
        with session_scope(eng) as session:
            return list(session.scalars(select(Customer.name).order_by(Customer.id)))

    assert names(engine) == names(empty)
    empty.dispose()


def test_the_sign_in_hint_lists_the_demo_accounts_that_the_demo_password_opens(engine, allow_demo):
    allow_demo(True)
    with session_scope(engine) as session:
        assert demo_logins(session) == []
    _first_admin_then_demo(engine)

    with session_scope(engine) as session:
        shown = demo_logins(session)
        assert "rep01" in shown
        assert "admin" not in shown  # no demo admin was made: the real one exists
        assert shown == [spec.username for spec in DEMO_USERS if spec.role != "admin"]
        set_password(session, "rep01", "changed since", actor=SYSTEM)
        assert "rep01" not in demo_logins(session)


def test_the_sign_in_hint_is_off_when_the_settings_forbid_demo_data(engine, allow_demo):
    _first_admin_then_demo(engine)
    allow_demo(False)

    with session_scope(engine) as session:
        assert demo_logins(session) == []


def test_real_users_who_happen_to_have_demo_usernames_get_no_hint(session, allow_demo):
    allow_demo(True)
    for name in ("rep01", "admin"):
        add_user(session, UserInput(username=name, role="rep"), password=REAL_PASSWORD, actor=SYSTEM)

    assert demo_logins(session) == []


# --- S2: what a failed sign-in writes to the audit log -------------------------------------------


def test_a_failed_sign_in_leaves_no_typed_text_in_the_audit_log(session):
    add_user(session, UserInput(username="rep", role="rep"), password=REAL_PASSWORD, actor=SYSTEM)

    assert authenticate(session, TYPED_BY_MISTAKE, "whatever").error == "login.failed"
    assert authenticate(session, TYPED_BY_MISTAKE.upper(), "whatever").error == "login.failed"
    assert authenticate(session, "rep", TYPED_BY_MISTAKE).error == "login.failed"
    session.commit()

    rows = session.execute(select(*AuditLog.__table__.columns)).all()
    assert [row.action for row in rows].count("login_failed") == 3
    for row in rows:
        for value in row:
            assert TYPED_BY_MISTAKE not in str(value).lower()


# --- S3: error messages carry no bound parameters ------------------------------------------------


def test_a_failed_user_insert_shows_no_password_hash_in_its_error(session):
    add_user(session, UserInput(username="rep", role="rep"), password=REAL_PASSWORD, actor=SYSTEM)
    session.commit()
    session.add(User(username="rep", display_name="Again", role="rep", password_hash=hash_password("x")))

    with pytest.raises(IntegrityError) as raised:
        session.flush()

    assert "$argon2" not in str(raised.value)
    session.rollback()


# --- S5: single sign-on trusts only verified e-mail addresses ------------------------------------


@pytest.mark.parametrize(
    ("claim", "verified"),
    [
        (True, True), (False, False), (None, None), ("true", True), ("False", False),
        (" TRUE ", True), ("yes", None), ("", None), (1, None), (0, None),
    ],
)  # fmt: skip
def test_the_email_verified_claim_reads_booleans_and_their_spellings(claim, verified):
    assert email_verified_claim(claim) is verified


@pytest.mark.parametrize(("verified", "signs_in"), [(True, True), (None, True), (False, False)])
def test_single_sign_on_refuses_an_address_the_provider_says_is_unverified(session, verified, signs_in):
    add_user(session, UserInput(username="li", email="li@corp.cn"), password=None, actor=SYSTEM)

    result = sign_in_by_email(session, "li@corp.cn", email_verified=verified)

    assert (result.user is not None) is signs_in
    if not signs_in:
        assert result.error == "login.sso_unverified"
        assert session.scalars(select(AuditLog.action)).all()[-1] == "login_failed"


# --- S7: an unknown username costs the same argon2 work as a wrong password ----------------------


def test_an_unknown_username_and_a_user_without_password_still_run_argon2(
    session: Session, monkeypatch: pytest.MonkeyPatch
):
    checked: list[str] = []

    class CountingHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            checked.append(str(password))
            return super().verify(hash, password)

    monkeypatch.setattr(auth, "_hasher", CountingHasher(time_cost=1, memory_cost=1024, parallelism=1))
    add_user(session, UserInput(username="sso-only", email="s@corp.cn"), password=None, actor=SYSTEM)

    assert authenticate(session, "nobody", "guess one").error == "login.failed"
    assert authenticate(session, "sso-only", "guess two").error == "login.failed"
    assert checked == ["guess one", "guess two"]

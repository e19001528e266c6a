"""The hardening issue's sign-in findings: demo password after demo is off, parallel guessing, username
oracles, users without e-mail and two first-run forms at once. Each test failed before its fix."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Literal

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM
from funnel.accounts import passwords as auth
from funnel.accounts import users
from funnel.accounts.signin import authenticate, login_failed
from funnel.accounts.users import (
    SetupDone,
    UserInput,
    add_user,
    create_first_admin,
    set_password,
    update_user,
)
from funnel.core.clock import utcnow
from funnel.core.db import session_scope
from funnel.core.settings import get_settings
from funnel.demo.generate import DEMO_PASSWORD, demo_logins, generate_demo
from funnel.store.models import AuditLog, User

PASSWORD = "correct horse"
# Long enough that a test stuck on a lock fails instead of hanging the run.
THREAD_TIMEOUT_SECONDS = 60


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set CRM_* variables for one test: settings_env(CRM_ALLOW_DEMO="0")."""

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    return set_env


@pytest.fixture
def verify_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The passwords argon2 was asked to verify, in order (with the cheap test costs)."""
    checked: list[str] = []

    class CountingHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            checked.append(str(password))
            return super().verify(hash, password)

    monkeypatch.setattr(auth, "_hasher", CountingHasher(time_cost=1, memory_cost=1024, parallelism=1))
    return checked


def _reasons(session: Session) -> list[tuple[str, str | None]]:
    """(action, reason) of every sign-in audit row, oldest first."""
    rows = session.execute(
        select(AuditLog.action, AuditLog.changes).where(AuditLog.action.like("%login%")).order_by(AuditLog.id)
    )
    return [(action, (changes or {}).get("reason", [None, None])[1]) for action, changes in rows]


def _run_together(workers: list[Callable[[], None]]) -> list[BaseException]:
    """Start every worker at the same moment; the errors they raised (none expected). Bounded in time."""
    start = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(work: Callable[[], None]) -> None:
        try:
            start.wait(timeout=THREAD_TIMEOUT_SECONDS)
            work()
        except BaseException as exc:  # handed back to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(work,), daemon=True) for work in workers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + THREAD_TIMEOUT_SECONDS
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "a sign-in thread did not finish in time"
    return errors


# --- demo password once demo data is switched off -------------------------------------------------


def test_with_demo_data_switched_off_the_demo_password_opens_no_account(engine, settings_env):
    generate_demo(engine, leads=20, seed=1, actor=SYSTEM)  # an empty database: demo admin included
    with session_scope(engine) as session:
        add_user(session, UserInput(username="real", role="rep"), password=DEMO_PASSWORD, actor=SYSTEM)
    settings_env(CRM_ALLOW_DEMO="0")

    with session_scope(engine) as session:
        for name in ("admin", "rep01", "real"):
            assert authenticate(session, name, DEMO_PASSWORD) == login_failed()
        assert _reasons(session)[-1] == ("login_failed", "demo_password")

    settings_env(CRM_ALLOW_DEMO="1")
    with session_scope(engine) as session:
        assert authenticate(session, "rep01", DEMO_PASSWORD).user is not None


def test_the_sign_in_hint_verifies_the_shared_demo_hash_once_not_on_every_view(
    engine, settings_env, verify_calls
):
    settings_env(CRM_ALLOW_DEMO="1")
    generate_demo(engine, leads=20, seed=1, actor=SYSTEM)

    with session_scope(engine) as session:
        views = [demo_logins(session) for _ in range(5)]

    assert views[0] and all(view == views[0] for view in views)
    assert verify_calls == [DEMO_PASSWORD]  # one argon2 verify for five anonymous views
    with session_scope(engine) as session:
        set_password(session, "rep01", "changed since", actor=SYSTEM)
        assert "rep01" not in demo_logins(session)  # a new hash gets its own verdict


# --- one answer and the same work for every failure ----------------------------------------------


def _unknown(session: Session) -> tuple[str, str]:
    return "nobody", PASSWORD


def _wrong_password(session: Session) -> tuple[str, str]:
    return "rep", "wrong password"


def _locked_right_password(session: Session) -> tuple[str, str]:
    session.scalars(select(User).where(User.username == "rep")).one().locked_until = utcnow() + timedelta(
        minutes=5
    )
    return "rep", PASSWORD


def _disabled_right_password(session: Session) -> tuple[str, str]:
    update_user(session, "rep", actor=SYSTEM, is_active=False)
    return "rep", PASSWORD


def _disabled_wrong_password(session: Session) -> tuple[str, str]:
    update_user(session, "rep", actor=SYSTEM, is_active=False)
    return "rep", "wrong password"


@pytest.mark.parametrize(
    ("arrange", "audited"),
    [
        (_unknown, ("login_failed", "unknown_user")),
        (_wrong_password, ("login_failed", "wrong_password")),
        (_locked_right_password, ("login_refused_locked", "locked")),
        (_disabled_right_password, ("login_refused_disabled", "disabled")),
        (_disabled_wrong_password, ("login_failed", "wrong_password")),
    ],
    ids=lambda value: getattr(value, "__name__", "")[1:] or None,
)
def test_every_failed_sign_in_looks_the_same_and_costs_one_argon2_verify(
    session, verify_calls, arrange, audited
):
    add_user(session, UserInput(username="rep", role="rep"), password=PASSWORD, actor=SYSTEM)
    login, password = arrange(session)
    session.flush()
    verify_calls.clear()

    result = authenticate(session, login, password)

    settings = get_settings()
    assert result == login_failed()
    assert (result.error, result.locked_until) == ("login.failed", None)
    assert result.params == {
        "max_failed_logins": str(settings.max_failed_logins),
        "lockout_minutes": str(settings.lockout_minutes),
    }
    assert verify_calls == [password]
    assert _reasons(session)[-1] == audited


def test_the_one_failure_message_names_the_configured_lock_out_rule_in_both_languages(settings_env):
    from funnel.core.i18n import t

    settings_env(CRM_MAX_FAILED_LOGINS="7", CRM_LOCKOUT_MINUTES="25")
    result = login_failed()
    for lang in ("en", "zh"):
        for text in (t(result.error or "", lang, **result.params), t("login.failed", lang, until="")):
            assert " 7 " in text and " 25 " in text, text


# --- parallel guessing ----------------------------------------------------------------------------


def test_parallel_wrong_guesses_lock_the_account_after_the_maximum(engine, settings_env):
    settings_env(CRM_MAX_FAILED_LOGINS="5", CRM_LOCKOUT_MINUTES="15")
    with session_scope(engine) as session:
        add_user(session, UserInput(username="rep", role="rep"), password=PASSWORD, actor=SYSTEM)

    def guesser() -> None:
        for attempt in range(4):
            with session_scope(engine) as session:
                assert authenticate(session, "rep", f"guess {attempt}").user is None

    errors = _run_together([guesser] * 10)

    assert errors == []
    with session_scope(engine) as session:
        user = session.scalars(select(User).where(User.username == "rep")).one()
        reasons = _reasons(session)
        assert user.locked_until is not None and user.locked_until > utcnow()
        # No failure was lost: each lock took exactly five counted failures, the rest are still counted.
        counted = reasons.count(("login_failed", "wrong_password"))
        locks = session.scalar(select(func.count()).where(AuditLog.action == "account_locked"))
        assert locks >= 1
        assert counted == 5 * locks + user.failed_logins
        assert counted + reasons.count(("login_refused_locked", "locked")) == 40
        assert authenticate(session, "rep", PASSWORD).user is None  # the right password waits too


# --- users without e-mail -------------------------------------------------------------------------


def test_users_without_an_email_are_stored_with_no_email_however_many_there_are(session):
    for name, email in (("li", ""), ("wang", "  "), ("zhao", None)):
        add_user(session, UserInput(username=name, email=email), password=PASSWORD, actor=SYSTEM)
    add_user(session, UserInput(username="sun", email="sun@corp.cn"), password=PASSWORD, actor=SYSTEM)
    update_user(session, "sun", actor=SYSTEM, email="")
    update_user(session, "li", actor=SYSTEM, email=" ", team="east")
    session.commit()

    emails = {name: email for name, email in session.execute(select(User.username, User.email))}
    assert emails == {"li": None, "wang": None, "zhao": None, "sun": None}
    assert session.scalar(select(func.count()).where(User.email.is_(None))) == 4


# --- two first-run forms at once ------------------------------------------------------------------


def test_two_first_run_forms_submitted_at_once_make_one_admin(engine, monkeypatch):
    hash_password = auth.hash_password

    def slow_hash(password: str) -> str:
        time.sleep(0.3)  # widen the gap between counting users and inserting the admin
        return hash_password(password)

    monkeypatch.setattr(users, "hash_password", slow_hash)  # what add_user calls
    outcomes: list[str] = []

    def submit(username: str) -> Callable[[], None]:
        def work() -> None:
            try:
                with session_scope(engine) as session:
                    create_first_admin(session, UserInput(username=username), password=PASSWORD)
                outcomes.append("admin")
            except SetupDone:
                outcomes.append("refused")

        return work

    errors = _run_together([submit(f"first{n}") for n in range(4)])

    assert errors == []
    assert sorted(outcomes) == ["admin", "refused", "refused", "refused"]
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1


def test_the_first_run_admin_check_still_works_inside_a_session_that_has_written(engine: Engine):
    with session_scope(engine) as session:
        session.add(AuditLog(action="create", entity="user", entity_id=None))
        session.flush()
        assert create_first_admin(session, UserInput(username="first"), password=PASSWORD).role == "admin"
    with pytest.raises(SetupDone), session_scope(engine) as session:
        create_first_admin(session, UserInput(username="second"), password=PASSWORD)

"""Sign-in: the first-run admin form, the login form with lock-out, sign-out and idle expiry."""

from collections.abc import Callable
from datetime import timedelta
from typing import NoReturn

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from streamlit.proto.TextInput_pb2 import TextInput as TextInputProto
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM
from funnel.accounts.users import count_users, find_user, update_user
from funnel.core.clock import utcnow
from funnel.core.db import session_scope
from funnel.store.models import UserSession
from pages._shared.auth_ui import SESSION_KEY
from tests.app.conftest import PASSWORD
from tests.app.helpers import DASHBOARD, LEAD_ENTRY

SETUP_TITLE = "Welcome to Loudou: create the first administrator"


def fill(app: AppTest, **values: str) -> AppTest:
    for key, value in values.items():
        app.text_input(key=key).input(value)
    return app


def log_in(app: AppTest, username: str, password: str) -> AppTest:
    fill(app, login_username=username, login_password=password)
    return app.button(key="login_submit").click().run()


def titles(app: AppTest) -> list[str]:
    return [title.value for title in app.title]


# --- first run: an empty database has no users yet -------------------------------------------------


def test_an_empty_database_shows_the_first_run_admin_form_and_nothing_else(anonymous_app: AppTest) -> None:
    app = anonymous_app.run()
    assert not app.exception
    assert titles(app) == [SETUP_TITLE]
    assert not app.text_input(key="setup_username").value
    assert not app.metric
    assert "sign_out" not in [button.key for button in app.sidebar.button]


@pytest.mark.parametrize("page", [DASHBOARD, LEAD_ENTRY, "pages/users.py", "pages/audit.py"])
def test_no_page_is_reachable_before_the_first_admin_exists(anonymous_app: AppTest, page: str) -> None:
    app = anonymous_app.switch_page(page).run()  # the page's address typed directly (a deep link)
    assert not app.exception
    assert titles(app) == [SETUP_TITLE]
    assert not app.metric
    assert not app.dataframe


def test_creating_the_first_admin_signs_them_in(anonymous_app: AppTest, app_engine: Engine) -> None:
    app = anonymous_app.run()
    fill(app, setup_username="Boss", setup_name="The Boss", setup_password="first admin pass",
         setup_repeat="first admin pass")  # fmt: skip
    app.button(key="setup_submit").click().run()
    assert not app.exception
    assert "Funnel dashboard" in titles(app)
    assert "The Boss" in app.sidebar.markdown[0].value
    with session_scope(app_engine) as session:
        user = find_user(session, "boss")
        assert user is not None
        assert user.role == "admin"


def test_the_first_run_form_reports_a_bad_username_by_its_field_name(
    anonymous_app: AppTest, app_engine: Engine
) -> None:
    app = anonymous_app.run()
    fill(app, setup_username="x", setup_password="first admin pass", setup_repeat="first admin pass")
    app.button(key="setup_submit").click().run()
    assert app.error[0].value.startswith("Username: ")
    assert "is not a valid username" in app.error[0].value
    fill(app, setup_username="boss", setup_repeat="another pass")
    app.button(key="setup_submit").click().run()
    assert app.error[0].value == "The two passwords differ."
    with session_scope(app_engine) as session:
        assert count_users(session) == 0


# --- the login form ------------------------------------------------------------------------------


def test_the_login_form_is_shown_to_someone_not_signed_in(
    anonymous_app: AppTest, accounts: dict[str, int]
) -> None:
    app = anonymous_app.run()
    assert titles(app) == ["Sign in"]
    assert app.text_input(key="login_password").proto.type == TextInputProto.PASSWORD


FAILED = (
    "Sign-in failed: the username or password is wrong, or this account cannot sign in now. After 5 failed "
    "attempts an account is locked for 15 minutes; an administrator can lift the lock by resetting the password."
)


def test_a_wrong_password_is_refused(anonymous_app: AppTest, accounts: dict[str, int]) -> None:
    app = log_in(anonymous_app.run(), "rep", "not the password")
    assert app.error[0].value == FAILED
    assert titles(app) == ["Sign in"]
    log_in(app, "nobody", PASSWORD)
    assert app.error[0].value == FAILED  # the same: usernames stay secret


def test_five_wrong_passwords_lock_the_account(
    anonymous_app: AppTest, accounts: dict[str, int], app_engine: Engine
) -> None:
    app = anonymous_app.run()
    for _ in range(5):
        log_in(app, "rep", "not the password")
    assert app.error[0].value == FAILED  # the rule, not whether this account is locked
    with session_scope(app_engine) as session:
        user = find_user(session, "rep")
        assert user is not None
        assert user.locked_until is not None
        assert user.locked_until > utcnow()
    log_in(app, "rep", PASSWORD)  # even the right password waits for the lock to end
    assert app.error[0].value == FAILED
    assert titles(app) == ["Sign in"]


def test_the_right_password_signs_in_and_opens_the_dashboard(
    anonymous_app: AppTest, accounts: dict[str, int]
) -> None:
    app = log_in(anonymous_app.run(), "Manager", PASSWORD)
    assert not app.exception
    assert not app.error
    assert "Funnel dashboard" in titles(app)
    assert "Sales manager" in app.sidebar.markdown[0].value


def test_a_disabled_user_gets_the_same_answer_as_a_wrong_password(
    anonymous_app: AppTest, accounts: dict[str, int], app_engine: Engine
) -> None:
    # Saying "disabled" only to the right password would confirm the password to a guesser.
    with session_scope(app_engine) as session:
        update_user(session, "rep", actor=SYSTEM, is_active=False)
    app = log_in(anonymous_app.run(), "rep", PASSWORD)
    assert app.error[0].value == FAILED
    assert titles(app) == ["Sign in"]


# --- sign-out and expiry -------------------------------------------------------------------------


def test_signing_out_returns_to_the_login_form(anonymous_app: AppTest, accounts: dict[str, int]) -> None:
    app = log_in(anonymous_app.run(), "rep", PASSWORD)
    assert "Funnel dashboard" in titles(app)
    app.sidebar.button(key="sign_out").click().run()
    assert not app.exception
    assert titles(app) == ["Sign in"]
    assert not app.metric
    app.run()  # and stays signed out
    assert titles(app) == ["Sign in"]


def last_used(engine: Engine, app: AppTest, ago: timedelta) -> None:
    """Pretend the app's session was last used `ago`."""
    with session_scope(engine) as session:
        row = session.get(UserSession, app.session_state[SESSION_KEY])
        assert row is not None
        row.last_seen_at = utcnow() - ago


def test_an_idle_session_expires_and_asks_to_sign_in_again(
    app_as: Callable[[str], AppTest], app_engine: Engine
) -> None:
    app = app_as("rep")
    last_used(app_engine, app, timedelta(hours=2))
    app.run()
    assert not app.exception
    assert titles(app) == ["Sign in"]
    assert app.info[0].value == (
        "Your session expired after 60 minutes without activity. Please sign in again."
    )


def test_a_recently_active_session_stays_signed_in(
    app_as: Callable[[str], AppTest], app_engine: Engine
) -> None:
    app = app_as("rep")
    last_used(app_engine, app, timedelta(minutes=30))
    app.run()
    assert "Funnel dashboard" in titles(app)


# --- a database that fails, and the reader's time zone ------------------------------------------


def _database_busy(*_args: object, **_kwargs: object) -> NoReturn:
    raise OperationalError("INSERT ...", {}, Exception("database is locked"))


def test_a_database_error_while_signing_in_shows_a_message_and_keeps_the_username(
    anonymous_app: AppTest, accounts: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pages._shared.auth_ui.authenticate", _database_busy)
    app = log_in(anonymous_app.run(), "rep", PASSWORD)
    assert not app.exception
    assert app.error[0].value.startswith("The database could not complete this just now")
    assert app.text_input(key="login_username").value == "rep"
    assert titles(app) == ["Sign in"]


def test_a_database_error_in_the_first_run_form_shows_a_message_and_keeps_the_username(
    anonymous_app: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pages._shared.auth_ui.create_first_admin", _database_busy)
    app = anonymous_app.run()
    fill(app, setup_username="boss", setup_password="first admin pass", setup_repeat="first admin pass")
    app.button(key="setup_submit").click().run()
    assert not app.exception
    assert app.error[0].value.startswith("The database could not complete this just now")
    assert app.text_input(key="setup_username").value == "boss"
    assert titles(app) == [SETUP_TITLE]

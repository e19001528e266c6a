"""Sign-in for every page: the first-run admin form, the login form, SSO, idle expiry and sign-out.

Streamlit keeps the signed-in user in st.session_state, which a browser refresh starts anew, so a
refresh asks for the password again (Streamlit offers no clean way to set a cookie; with single
sign-on, st.login's own cookie keeps the user signed in across refreshes).
"""

from __future__ import annotations

import logging
from datetime import datetime

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from funnel.access.permissions import Actor
from funnel.accounts.users import (
    SetupDone,
    UserInput,
    active_actor,
    authenticate,
    count_users,
    create_first_admin,
    email_verified_claim,
    session_expired,
    sign_in_by_email,
)
from funnel.core.clock import utcnow
from funnel.core.db import session_scope
from funnel.core.errors import ValidationError
from funnel.core.settings import get_settings
from funnel.demo.catalog import DEMO_PASSWORD
from funnel.demo.generate import demo_logins
from pages._shared.common import get_engine, local_time, tr

log = logging.getLogger(__name__)

USER_KEY = "auth_user_id"
SEEN_KEY = "auth_last_seen"
NOTICE_KEY = "auth_notice"


def sso_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml at all: Streamlit raises rather than answering False
        return False


def _start_session(user_id: int) -> None:
    st.session_state[USER_KEY] = user_id
    st.session_state[SEEN_KEY] = utcnow()


def sign_out(notice: str | None = None) -> None:
    for key in (USER_KEY, SEEN_KEY):
        st.session_state.pop(key, None)
    if notice:
        st.session_state[NOTICE_KEY] = notice
    if sso_configured() and st.user.is_logged_in:
        st.logout()


def signed_in_actor() -> Actor:
    """The signed-in user; otherwise draw the first-run or sign-in form and stop the page here."""
    engine = get_engine()
    user_id = st.session_state.get(USER_KEY)
    if user_id is not None:
        last_seen: datetime = st.session_state.get(SEEN_KEY, utcnow())
        if session_expired(last_seen):
            sign_out(tr("login.expired", minutes=get_settings().session_idle_minutes))
        else:
            with session_scope(engine) as session:
                actor = active_actor(session, user_id)
            if actor is not None:
                st.session_state[SEEN_KEY] = utcnow()
                return actor
            sign_out(tr("login.disabled"))
    with session_scope(engine) as session:
        first_run = count_users(session) == 0
    if first_run:
        _first_run_form()
    else:
        _sso_sign_in()
        _login_form()
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises; this keeps type checkers honest


def _sso_sign_in() -> None:
    if not sso_configured() or not st.user.is_logged_in:
        return
    verified = email_verified_claim(st.user.get("email_verified"))
    try:
        with session_scope(get_engine()) as session:
            result = sign_in_by_email(session, str(st.user.get("email") or ""), email_verified=verified)
            if result.user is not None:
                _start_session(result.user.id)
    except SQLAlchemyError:
        log.exception("single sign-on failed")
        st.error(tr("auth.db_error"), icon=":material/error:")
        return
    if result.user is not None:
        st.rerun()
    st.error(tr(result.error or "login.sso_unknown"))


def _login_form() -> None:
    st.title(tr("auth.sign_in"))
    if notice := st.session_state.pop(NOTICE_KEY, None):
        st.info(notice)
    with st.form("login_form", enter_to_submit=True):
        login = st.text_input(tr("auth.username"), key="login_username")
        password = st.text_input(tr("auth.password"), type="password", key="login_password")
        submitted = st.form_submit_button(tr("auth.submit"), key="login_submit", type="primary")
    if sso_configured():
        st.button(tr("auth.sso"), key="login_sso", on_click=st.login)
    with session_scope(get_engine()) as session:
        demo_names = demo_logins(session)
    if demo_names:
        names = ", ".join(f"`{name}`" for name in demo_names)
        st.caption(tr("auth.demo_hint", users=names, password=DEMO_PASSWORD))
    if not submitted:
        return
    try:
        with session_scope(get_engine()) as session:
            result = authenticate(session, login, password)
            user_id = result.user.id if result.user else None
    except SQLAlchemyError:
        # The form keeps what was typed: returning without a rerun leaves the widgets as they are.
        log.exception("signing in failed")
        st.error(tr("auth.db_error"), icon=":material/error:")
        return
    if user_id is None:
        until = f"{local_time(result.locked_until):%Y-%m-%d %H:%M}" if result.locked_until else ""
        st.error(tr(result.error or "login.bad_credentials", until=until), icon=":material/lock:")
        return
    _start_session(user_id)
    st.rerun()


def _first_run_form() -> None:
    st.title(tr("auth.setup_title"))
    st.caption(tr("auth.setup_intro"))
    with st.form("setup_form"):
        username = st.text_input(tr("users.username"), key="setup_username")
        name = st.text_input(tr("auth.display_name"), key="setup_name")
        password = st.text_input(tr("auth.password"), type="password", key="setup_password")
        repeat = st.text_input(tr("auth.password_repeat"), type="password", key="setup_repeat")
        submitted = st.form_submit_button(tr("auth.create_admin"), key="setup_submit", type="primary")
    if not submitted:
        return
    if password != repeat:
        st.error(tr("auth.password_mismatch"))
        return
    try:
        with session_scope(get_engine()) as session:
            user = create_first_admin(
                session, UserInput(username=username, display_name=name), password=password
            )
            user_id = user.id
    except ValidationError as exc:
        for error in exc.errors:
            st.error(f"{tr('users.' + error.field)}: {tr(error.code, **error.params)}")
        return
    except SetupDone:
        st.info(tr("auth.setup_done"))
        return
    except SQLAlchemyError:
        # Most often SQLite busy, or someone else submitting this form at the same moment.
        log.exception("creating the first administrator failed")
        st.error(tr("auth.db_error"), icon=":material/error:")
        return
    _start_session(user_id)
    st.rerun()


def account_sidebar(actor: Actor) -> None:
    """Who is signed in, and the sign-out button."""
    st.sidebar.markdown(tr("auth.signed_in_as", name=actor.display_name, role=tr(f"role.{actor.role}")))
    if st.sidebar.button(tr("auth.sign_out"), key="sign_out", icon=":material/logout:"):
        sign_out()
        st.rerun()

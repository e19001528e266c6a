"""Sign-in for the app shell: who is signed in, the first-run and sign-in forms, SSO and sign-out.

A signed-in browser holds a session in the database (funnel.accounts.sessions). This Streamlit session
remembers the session's id; a new Streamlit session (a refresh, a link opened in another tab) finds it
through the HttpOnly cookie that pages/_shared/session_routes.py sets, read here with
st.context.cookies. Every run resolves the session again, so idle expiry, sign-out elsewhere and a
disabled account take effect on the next click. Sign-out ends this browser's session only; disabling
a user or resetting their password ends all of theirs.
"""

from __future__ import annotations

import json
import logging

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.accounts.sessions import (
    DISABLED,
    EXPIRED,
    REVOKED,
    NewSession,
    resolve_session,
    revoke_session,
    start_session,
    token_hash,
)
from funnel.accounts.signin import authenticate, email_verified_claim, sign_in_by_email
from funnel.accounts.users import SetupDone, UserInput, count_users, create_first_admin
from funnel.core.db import session_scope
from funnel.core.errors import ValidationError
from funnel.core.settings import get_settings
from funnel.demo.catalog import DEMO_PASSWORD
from funnel.inbox.notify import unread_count
from pages._shared.common import Markdown, cached_demo_logins, database_url, get_engine, tr
from pages._shared.notify_loop import start_outbox_sender
from pages._shared.session_routes import COOKIE, SIGN_IN_PATH, SIGN_OUT_PATH

log = logging.getLogger(__name__)

SESSION_KEY = "auth_session_id"  # the database session this Streamlit session is signed in with
HANDOFF_KEY = "auth_handoff"  # a one-time code the browser still has to trade for its cookie
FORGET_COOKIE_KEY = "auth_forget_cookie"  # the browser should drop its cookie
COOKIE_TRIED_KEY = "auth_cookie_tried"  # the hash of a cookie token that signed no one in
NOTICE_KEY = "auth_notice"


def sso_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml at all: Streamlit raises rather than answering False
        return False


def current_actor() -> Actor | None:
    """The signed-in user for this run, or None; when a session has just ended, a notice says why."""
    session_id = st.session_state.get(SESSION_KEY)
    token = None if session_id is not None else _cookie_token()
    if session_id is None and (not token or st.session_state.get(COOKIE_TRIED_KEY) == token_hash(token)):
        return None
    with session_scope(get_engine()) as session:
        resolved = resolve_session(session, session_id=session_id, token=token)
    if resolved.actor is not None:
        st.session_state[SESSION_KEY] = resolved.session_id
        return resolved.actor
    if token:
        st.session_state[COOKIE_TRIED_KEY] = token_hash(token)
    st.session_state.pop(SESSION_KEY, None)
    st.session_state[FORGET_COOKIE_KEY] = True
    notices = {
        EXPIRED: tr("login.expired", minutes=get_settings().session_idle_minutes),
        DISABLED: tr("login.disabled"),
        REVOKED: tr("login.revoked") if session_id is not None else None,
    }
    if notice := notices.get(resolved.reason or ""):
        st.session_state[NOTICE_KEY] = notice
    return None


def _cookie_token() -> str | None:
    token = st.context.cookies.get(COOKIE)
    return token if isinstance(token, str) and token else None


def _signed_in(new: NewSession) -> None:
    """After the transaction that started `new`: this session is signed in; the browser gets its cookie."""
    st.session_state[SESSION_KEY] = new.session_id
    st.session_state[HANDOFF_KEY] = new.handoff
    st.session_state.pop(FORGET_COOKIE_KEY, None)
    st.rerun()


def sign_out() -> None:
    """End this browser's session (other browsers of the same user stay signed in)."""
    session_id = st.session_state.pop(SESSION_KEY, None)
    st.session_state.pop(HANDOFF_KEY, None)
    st.session_state[FORGET_COOKIE_KEY] = True  # the route revokes the cookie's session too
    if session_id is not None:
        try:
            with session_scope(get_engine()) as session:
                revoke_session(session, session_id=session_id)
        except SQLAlchemyError:
            log.exception("revoking session %s at sign-out failed", session_id)
    if sso_configured() and st.user.is_logged_in:
        st.logout()


def cookie_bridge() -> None:
    """Let the browser trade a pending handoff code for its cookie, or drop its cookie after sign-out."""
    if code := st.session_state.pop(HANDOFF_KEY, None):
        _post(SIGN_IN_PATH, {"code": code})
    elif st.session_state.pop(FORGET_COOKIE_KEY, False):
        _post(SIGN_OUT_PATH, {})


def _post(path: str, body: dict[str, str]) -> None:
    # Only the page's own origin and a code the server just made go into this script (no user text).
    script = (
        f"fetch({json.dumps(path)}, {{method: 'POST', credentials: 'same-origin', "
        f"headers: {{'Content-Type': 'application/json'}}, body: {json.dumps(json.dumps(body))}}});"
    )
    st.sidebar.html(f"<script>{script}</script>", width="content", unsafe_allow_javascript=True)


def sign_in_page() -> None:
    """The page a signed-out browser sees at any address: the first-run admin form or the sign-in form."""
    with session_scope(get_engine()) as session:
        first_run = count_users(session) == 0
    if first_run:
        _first_run_form()
    else:
        _sso_sign_in()
        _login_form()


def _sso_sign_in() -> None:
    if not sso_configured() or not st.user.is_logged_in:
        return
    verified = email_verified_claim(st.user.get("email_verified"))
    new = None
    try:
        with session_scope(get_engine()) as session:
            result = sign_in_by_email(session, str(st.user.get("email") or ""), email_verified=verified)
            if result.user is not None:
                new = start_session(session, user_id=result.user.id)
    except SQLAlchemyError:
        log.exception("single sign-on failed")
        st.error(tr("auth.db_error"), icon=":material/error:")
        return
    if new is not None:
        _signed_in(new)
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
    if demo_names := cached_demo_logins(database_url()):
        names = ", ".join(f"`{name}`" for name in demo_names)
        st.caption(tr("auth.demo_hint", users=Markdown(names), password=DEMO_PASSWORD))
    if not submitted:
        return
    new = None
    try:
        with session_scope(get_engine()) as session:
            result = authenticate(session, login, password)
            new = _start(session, result.user.id if result.user else None)
    except SQLAlchemyError:
        # The form keeps what was typed: returning without a rerun leaves the widgets as they are.
        log.exception("signing in failed")
        st.error(tr("auth.db_error"), icon=":material/error:")
        return
    if new is None:
        # One message for every failure (unknown user, wrong password, locked, disabled): see authenticate.
        st.error(tr(result.error or "login.failed", **result.params), icon=":material/lock:")
        return
    _signed_in(new)


def _start(session: Session, user_id: int | None) -> NewSession | None:
    return None if user_id is None else start_session(session, user_id=user_id)


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
            new = start_session(session, user_id=user.id)
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
    _signed_in(new)


def account_sidebar(actor: Actor) -> None:
    """Who is signed in, their unread notifications, and the sign-out button."""
    st.sidebar.markdown(tr("auth.signed_in_as", name=actor.display_name, role=tr(f"role.{actor.role}")))
    if actor.user_id is not None:
        try:
            with session_scope(get_engine()) as session:
                unread = unread_count(
                    session, actor.user_id
                )  # one indexed count (ix_notification_user_unread)
        except SQLAlchemyError:
            log.exception("counting unread notifications failed")
        else:
            st.sidebar.markdown(tr("inbox.sidebar_unread", count=unread))
    start_outbox_sender()
    if st.sidebar.button(tr("auth.sign_out"), key="sign_out", icon=":material/logout:"):
        sign_out()
        st.rerun()

"""Sign-in sessions: the handoff, the cookie token, idle expiry, and revocation (sign-out, disable, reset)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM
from funnel.accounts.sessions import (
    DISABLED,
    EXPIRED,
    HANDOFF_SECONDS,
    REVOKED,
    UNKNOWN,
    claim_handoff,
    resolve_session,
    revoke_session,
    start_session,
    token_hash,
)
from funnel.accounts.users import UserInput, add_user, set_password, update_user
from funnel.core.clock import utcnow
from funnel.store.models import UserSession


@pytest.fixture
def user_id(session: Session) -> int:
    add_user(session, UserInput(username="admin", role="admin"), password="admin password", actor=SYSTEM)
    user = add_user(session, UserInput(username="rep"), password="rep password", actor=SYSTEM)
    session.commit()
    return user.id


def signed_in(session: Session, user_id: int) -> tuple[int, str]:
    """A session whose browser has claimed its cookie token: (session id, token)."""
    new = start_session(session, user_id=user_id)
    token = claim_handoff(session, new.handoff)
    assert token is not None
    session.commit()
    return new.session_id, token


def test_a_session_resolves_by_id_and_by_the_cookie_token_to_its_user(session: Session, user_id: int) -> None:
    session_id, token = signed_in(session, user_id)
    by_token = resolve_session(session, token=token)
    assert by_token.actor is not None and by_token.actor.username == "rep"
    assert by_token.session_id == session_id
    assert resolve_session(session, session_id=session_id).actor == by_token.actor


def test_only_hashes_are_stored(session: Session, user_id: int) -> None:
    _, token = signed_in(session, user_id)
    row = session.scalars(select(UserSession)).one()
    assert row.token_hash == token_hash(token) != token
    assert row.handoff_hash is None  # spent


def test_a_handoff_code_works_once_and_only_while_fresh(session: Session, user_id: int) -> None:
    new = start_session(session, user_id=user_id)
    assert claim_handoff(session, new.handoff) is not None
    assert claim_handoff(session, new.handoff) is None
    late = start_session(session, user_id=user_id)
    assert claim_handoff(session, late.handoff, now=utcnow() + timedelta(seconds=HANDOFF_SECONDS + 1)) is None
    assert claim_handoff(session, "made up") is None


@pytest.mark.parametrize(("idle_minutes", "signed_in_still"), [(30, True), (59, True), (61, False)])
def test_a_session_expires_after_the_idle_minutes(
    session: Session, user_id: int, idle_minutes: int, signed_in_still: bool
) -> None:
    _, token = signed_in(session, user_id)
    later = utcnow() + timedelta(minutes=idle_minutes)
    resolved = resolve_session(session, token=token, now=later)
    assert (resolved.actor is not None) is signed_in_still
    if not signed_in_still:
        assert resolved.reason == EXPIRED


def test_using_a_session_keeps_it_alive(session: Session, user_id: int) -> None:
    _, token = signed_in(session, user_id)
    now = utcnow()
    for minutes in (40, 80, 120):  # each use within the hour of the last one
        assert resolve_session(session, token=token, now=now + timedelta(minutes=minutes)).actor is not None


def test_signing_out_revokes_that_session_only(session: Session, user_id: int) -> None:
    first, first_token = signed_in(session, user_id)
    _, other_token = signed_in(session, user_id)
    revoke_session(session, session_id=first)
    assert resolve_session(session, token=first_token).reason == REVOKED
    assert resolve_session(session, token=other_token).actor is not None


def test_disabling_a_user_revokes_all_their_sessions(session: Session, user_id: int) -> None:
    tokens = [signed_in(session, user_id)[1] for _ in range(2)]
    update_user(session, "rep", actor=SYSTEM, is_active=False)
    assert {resolve_session(session, token=t).reason for t in tokens} == {DISABLED}
    update_user(session, "rep", actor=SYSTEM, is_active=True)  # enabled again: they sign in anew
    assert {resolve_session(session, token=t).reason for t in tokens} == {REVOKED}


def test_a_password_reset_revokes_all_their_sessions(session: Session, user_id: int) -> None:
    _, token = signed_in(session, user_id)
    set_password(session, "rep", "a new password", actor=SYSTEM)
    assert resolve_session(session, token=token).reason == REVOKED


def test_other_changes_to_a_user_keep_their_sessions(session: Session, user_id: int) -> None:
    _, token = signed_in(session, user_id)
    update_user(session, "rep", actor=SYSTEM, role="manager")
    resolved = resolve_session(session, token=token)
    assert resolved.actor is not None and resolved.actor.role == "manager"  # the new role at once


def test_an_unknown_token_signs_in_no_one(session: Session, user_id: int) -> None:
    assert resolve_session(session, token="no such token").reason == UNKNOWN
    assert resolve_session(session).reason == UNKNOWN

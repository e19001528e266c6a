"""Sign-in sessions kept in the database, so that a browser stays signed in across refreshes and links.

A session starts when someone signs in (`start_session`). The browser then trades a one-time handoff
code, valid for `HANDOFF_SECONDS`, for the long random token its cookie holds (`claim_handoff`); the
token itself never passes through the page, and only its sha256 is stored. Every run of the app
resolves the session again (`resolve_session`): it ends after `session_idle_minutes` without use,
when it is revoked (`revoke_session` at sign-out: that browser only), and for every browser of a user
who is disabled or whose password is reset (`revoke_user_sessions`, called by funnel.accounts.users).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.core.clock import utcnow
from funnel.core.settings import get_settings
from funnel.store.models import User, UserSession

HANDOFF_SECONDS = 120
TOUCH_EVERY = timedelta(seconds=30)  # last use is kept to the half minute: not one write per click
TOKEN_BYTES = 32

# Why a session no longer signs anyone in; the sign-in page words each one.
UNKNOWN, EXPIRED, REVOKED, DISABLED = "unknown", "expired", "revoked", "disabled"


def token_hash(token: str) -> str:
    """What the database keeps of a token or handoff code: its sha256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewSession:
    """A session just started: its id (kept server-side) and the one-time code the browser trades."""

    session_id: int
    handoff: str


@dataclass(frozen=True)
class Resolved:
    """A session looked up: the signed-in actor, or None and why not."""

    actor: Actor | None
    session_id: int | None = None
    reason: str | None = None


def start_session(session: Session, *, user_id: int, now: datetime | None = None) -> NewSession:
    """Start a session for a user who has just signed in; the cookie's token comes with the handoff."""
    now = now or utcnow()
    _forget_dead_sessions(session, user_id=user_id, now=now)
    handoff = secrets.token_urlsafe(TOKEN_BYTES)
    row = UserSession(user_id=user_id, handoff_hash=token_hash(handoff), created_at=now, last_seen_at=now)
    session.add(row)
    session.flush()
    return NewSession(row.id, handoff)


def claim_handoff(session: Session, handoff: str, *, now: datetime | None = None) -> str | None:
    """Trade a fresh, unused handoff code for the session's cookie token (None: unknown, used or stale)."""
    now = now or utcnow()
    row = session.scalar(select(UserSession).where(UserSession.handoff_hash == token_hash(handoff)))
    if row is None:
        return None
    row.handoff_hash = None  # one use, whatever the outcome
    if row.revoked_at is not None or row.token_hash is not None:
        return None
    if now - row.created_at > timedelta(seconds=HANDOFF_SECONDS):
        return None
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row.token_hash = token_hash(token)
    return token


def resolve_session(
    session: Session,
    *,
    session_id: int | None = None,
    token: str | None = None,
    now: datetime | None = None,
) -> Resolved:
    """The actor a session (by id, or by the cookie's token) signs in, applying the idle rule; touches it."""
    now = now or utcnow()
    query = select(UserSession, User).join(User, User.id == UserSession.user_id)
    if session_id is not None:
        query = query.where(UserSession.id == session_id)
    elif token:
        query = query.where(UserSession.token_hash == token_hash(token))
    else:
        return Resolved(None, reason=UNKNOWN)
    found = session.execute(query).first()
    if found is None:
        return Resolved(None, reason=UNKNOWN)
    row, user = found
    if not user.is_active:
        return Resolved(None, row.id, DISABLED)
    if row.revoked_at is not None:
        return Resolved(None, row.id, REVOKED)
    if now - row.last_seen_at > _idle():
        row.revoked_at = now
        return Resolved(None, row.id, EXPIRED)
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return Resolved(Actor.of(user), row.id)


def revoke_session(
    session: Session, *, session_id: int | None = None, token: str | None = None, now: datetime | None = None
) -> None:
    """End one session (sign-out in one browser): by id, or by the cookie's token."""
    if session_id is None and not token:
        return
    condition = (
        UserSession.id == session_id
        if session_id is not None
        else (UserSession.token_hash == token_hash(token or ""))
    )
    session.execute(
        update(UserSession)
        .where(condition, UserSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow(), handoff_hash=None)
    )


def revoke_user_sessions(session: Session, *, user_id: int, now: datetime | None = None) -> None:
    """End every session of a user (disabled, or their password reset): each browser signs in again."""
    session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now or utcnow(), handoff_hash=None)
    )


def _idle() -> timedelta:
    return timedelta(minutes=get_settings().session_idle_minutes)


def _forget_dead_sessions(session: Session, *, user_id: int, now: datetime) -> None:
    """Delete a user's revoked or long-idle sessions, so the table holds about one row per browser."""
    session.execute(
        delete(UserSession).where(
            UserSession.user_id == user_id,
            or_(UserSession.revoked_at.is_not(None), UserSession.last_seen_at < now - _idle()),
        )
    )

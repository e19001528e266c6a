"""Signing in: credentials with lock-out (the same answer and work for every failure), single sign-on,
idle expiry, and who the signed-in user is now."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import case, or_, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from funnel.access.permissions import Actor
from funnel.accounts.passwords import DEMO_PASSWORD, _verify_evenly
from funnel.accounts.users import find_user
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.core.clock import utcnow
from funnel.core.db import take_write_lock
from funnel.core.i18n import rule_params
from funnel.core.settings import get_settings
from funnel.store.models import User


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a sign-in; failures are returned, not raised, so that their count is committed.

    Every failed local sign-in carries the same `error` ("login.failed") and `params`, whatever the
    reason; the reason goes to the audit log only. `locked_until` is never set on a failure (saying
    that an account is locked tells a guesser that the username exists); it is kept for callers that
    still read it.
    """

    user: User | None
    error: str | None = None
    locked_until: datetime | None = None
    params: dict[str, str] = field(default_factory=dict)


class LoginRefusal(StrEnum):
    """Why a sign-in was refused: written to the audit log, never shown to the person signing in."""

    UNKNOWN_USER = "unknown_user"
    WRONG_PASSWORD = "wrong_password"
    DEMO_PASSWORD = "demo_password"
    LOCKED = "locked"
    DISABLED = "disabled"


def login_failed() -> LoginResult:
    """The one answer to every failed sign-in: the same message, naming the lock-out rule."""
    # The message states the lock-out rule; t() fills it from the settings, the params only say so.
    return LoginResult(None, "login.failed", params=rule_params())


def authenticate(session: Session, login: str, password: str, *, now: datetime | None = None) -> LoginResult:
    """Check credentials; count failures and lock the account after too many.

    Unknown user, wrong password, locked or disabled account: every failure runs one argon2 verify and
    gets the same answer, so that neither the message nor the time taken tells a guesser whether a
    username exists, is locked or is disabled (the audit log keeps the reason). While the settings turn
    demo data off, the published demo password opens no account.
    """
    now = now or utcnow()
    # One argon2 verify on every path, before any decision: the locked and unknown paths must cost
    # what a wrong password costs. On a fresh session it runs before the write lock is taken: argon2 is
    # ~60 ms of CPU (seconds on a busy machine), and held under SQLite's one write lock it queued every
    # other writer behind each sign-in until they gave up with "database is locked" (issue #12, twenty
    # users signing in at once).
    fresh = not session.in_transaction()
    user = find_user(session, login)
    checked_hash = user.password_hash if user else None
    password_ok = _verify_evenly(checked_hash, password)
    if fresh:
        session.rollback()  # ends the read: a WAL snapshot older than the lock could not write
    take_write_lock(session)  # every sign-in writes (a count, an audit row): decide under the lock
    if fresh:
        user = find_user(session, login)
        if user is not None and user.password_hash != checked_hash:  # changed meanwhile: check the new one
            password_ok = _verify_evenly(user.password_hash, password)
    if user is None:
        # The audit row keeps none of the typed text: people type their password into the username
        # box, and managers read the audit log.
        _audit_refusal(session, None, LoginRefusal.UNKNOWN_USER)
        return login_failed()
    if user.locked_until and user.locked_until > now:
        _audit_refusal(session, user, LoginRefusal.LOCKED)
        return login_failed()
    refusal = None
    if not password_ok:
        refusal = LoginRefusal.WRONG_PASSWORD
    elif not get_settings().allow_demo and hmac.compare_digest(password.encode(), DEMO_PASSWORD.encode()):
        # Demo accounts (and anyone who chose the published password) stay in the database when demo
        # data is switched off; refusing the password itself closes them all, whoever holds it.
        refusal = LoginRefusal.DEMO_PASSWORD
    if refusal is not None:
        _count_failure(session, user, refusal, now=now)
        return login_failed()
    if not user.is_active:
        _audit_refusal(session, user, LoginRefusal.DISABLED)
        return login_failed()
    # The lock-out is checked again by the write itself: a parallel guess may have locked the account
    # since this one read it, and a right password must not slip in behind that lock.
    signed_in = session.execute(
        update(User)
        .where(User.id == user.id, or_(User.locked_until.is_(None), User.locked_until <= now))
        .values(failed_logins=0, locked_until=None, last_login_at=now)
        .execution_options(synchronize_session=False)
    )
    if not signed_in.rowcount:  # type: ignore[attr-defined]
        session.expire(user, ["failed_logins", "locked_until"])
        _audit_refusal(session, user, LoginRefusal.LOCKED)
        return login_failed()
    _loaded(user, failed_logins=0, locked_until=None, last_login_at=now)
    audit.record(
        session, action=AuditAction.LOGIN, entity=AuditEntity.USER, entity_id=user.id, user_id=user.id
    )
    return LoginResult(user)


def _loaded(user: User, **values: object) -> None:
    """Tell the ORM what an UPDATE statement just stored, so the object neither re-reads nor re-writes it."""
    for name, value in values.items():
        set_committed_value(user, name, value)


def _audit_refusal(session: Session, user: User | None, reason: LoginRefusal) -> None:
    action = {
        LoginRefusal.LOCKED: AuditAction.LOGIN_REFUSED_LOCKED,
        LoginRefusal.DISABLED: AuditAction.LOGIN_REFUSED_DISABLED,
    }.get(reason, AuditAction.LOGIN_FAILED)
    user_id = user.id if user is not None else None
    audit.record(
        session,
        action=action,
        entity=AuditEntity.USER,
        entity_id=user_id,
        user_id=user_id,
        changes={"reason": [None, reason.value]},
    )


def _count_failure(session: Session, user: User, reason: LoginRefusal, *, now: datetime) -> None:
    """Add one failure in the database itself, and lock the account when it reaches the limit.

    One UPDATE that reads and writes the counter (the row is locked for the statement on PostgreSQL,
    the database on SQLite), not a read here and a write at commit: parallel guesses that each read
    the same count and wrote it back plus one lost most of their failures and never locked.
    """
    settings = get_settings()
    reaches_limit = User.failed_logins + 1 >= settings.max_failed_logins
    left, locked_until = session.execute(
        update(User)
        .where(User.id == user.id)
        .values(
            failed_logins=case((reaches_limit, 0), else_=User.failed_logins + 1),
            locked_until=case(
                (reaches_limit, now + timedelta(minutes=settings.lockout_minutes)), else_=User.locked_until
            ),
        )
        # The new values: failed_logins is 0 only when this failure locked the account.
        .returning(User.failed_logins, User.locked_until)
        .execution_options(synchronize_session=False)
    ).one()
    _loaded(user, failed_logins=left, locked_until=locked_until)
    _audit_refusal(session, user, reason)
    if left == 0:
        audit.record(
            session,
            action=AuditAction.ACCOUNT_LOCKED,
            entity=AuditEntity.USER,
            entity_id=user.id,
            user_id=user.id,
        )


def session_expired(last_seen: datetime, *, now: datetime | None = None) -> bool:
    """True once a signed-in session has been idle longer than the configured minutes."""
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    return (now or utcnow()) - last_seen > idle


def active_actor(session: Session, user_id: int) -> Actor | None:
    """The signed-in user as an Actor, or None once the account is disabled or gone."""
    user = session.get(User, user_id)
    return Actor.of(user) if user is not None and user.is_active else None


def email_verified_claim(value: object) -> bool | None:
    """The identity provider's `email_verified` claim as True, False or None (the provider does not say).

    Most providers send a JSON boolean; some (Amazon Cognito, older Azure AD B2C setups) send the
    strings "true" / "false".
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def sign_in_by_email(session: Session, email: str, *, email_verified: bool | None) -> LoginResult:
    """Single sign-on: map the identity provider's e-mail to an active local user.

    An e-mail the provider says it has not verified is refused: on a provider where anyone can sign up
    with any address, it would otherwise let them in as the Loudou user with that address. A provider
    that does not send the claim at all (None) is trusted to hand out only addresses it vouches for,
    as configuring it for Loudou implies (a company directory such as Azure AD or Google Workspace).
    """
    if email_verified is False:
        audit.record(
            session,
            action=AuditAction.LOGIN_FAILED,
            entity=AuditEntity.USER,
            entity_id=None,
            changes={"sso_unverified": [None, email]},
        )
        return LoginResult(None, "login.sso_unverified")
    user = find_user(session, email) if email else None
    if user is None or not user.email or user.email.lower() != email.strip().lower():
        audit.record(
            session,
            action=AuditAction.LOGIN_FAILED,
            entity=AuditEntity.USER,
            entity_id=None,
            changes={"sso": [None, email]},
        )
        return LoginResult(None, "login.sso_unknown")
    if not user.is_active:
        return LoginResult(None, "login.disabled")
    user.last_login_at = utcnow()
    audit.record(
        session, action=AuditAction.LOGIN_SSO, entity=AuditEntity.USER, entity_id=user.id, user_id=user.id
    )
    return LoginResult(user)

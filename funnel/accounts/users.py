"""Accounts: argon2 password hashes, sign-in with lock-out, idle expiry, and user administration."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from funnel.access.permissions import ROLES, SYSTEM, Actor, require
from funnel.accounts.sessions import revoke_user_sessions
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.core.clock import utcnow
from funnel.core.errors import FieldError, NotFound, ValidationError
from funnel.core.settings import get_settings
from funnel.core.validation import clean, normalize_email
from funnel.store.models import User

_hasher = PasswordHasher()
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD_LENGTH = 8
USER_FIELDS = ("display_name", "email", "role", "region", "industry", "team", "is_active")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash of a password no one has, made on first use: what a sign-in with an unknown name checks."""
    return _hasher.hash("loudou: no such user")


def _verify_evenly(password_hash: str | None, password: str) -> bool:
    """verify_password, but with the argon2 work done even when there is no hash to check against.

    Without it a wrong username answers in microseconds and a wrong password in ~60 ms, and that
    difference tells an attacker which usernames exist.
    """
    if not password_hash:
        verify_password(_dummy_hash(), password)
        return False
    return verify_password(password_hash, password)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            [FieldError("password", "error.password_short", {"n": str(MIN_PASSWORD_LENGTH)})]
        )


def find_user(session: Session, login: str) -> User | None:
    """A user by username (case-insensitive) or e-mail."""
    text = login.strip().lower()
    if not text:
        return None
    return session.scalars(
        select(User).where(or_(func.lower(User.username) == text, func.lower(User.email) == text))
    ).first()


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a sign-in; failures are returned, not raised, so that their count is committed."""

    user: User | None
    error: str | None = None
    locked_until: datetime | None = None


def authenticate(session: Session, login: str, password: str, *, now: datetime | None = None) -> LoginResult:
    """Check credentials; count failures and lock the account after too many."""
    settings = get_settings()
    now = now or utcnow()
    user = find_user(session, login)
    if user is None:
        # The same message and the same argon2 work as a wrong password, so sign-in does not reveal
        # which usernames exist. The audit row keeps none of the typed text: people type their
        # password into the username box, and managers read the audit log.
        _verify_evenly(None, password)
        audit.record(session, action=AuditAction.LOGIN_FAILED, entity=AuditEntity.USER, entity_id=None)
        return LoginResult(None, "login.bad_credentials")
    if user.locked_until and user.locked_until > now:
        audit.record(
            session,
            action=AuditAction.LOGIN_REFUSED_LOCKED,
            entity=AuditEntity.USER,
            entity_id=user.id,
            user_id=user.id,
        )
        return LoginResult(None, "login.locked", user.locked_until)
    if not _verify_evenly(user.password_hash, password):
        user.failed_logins = (user.failed_logins or 0) + 1
        audit.record(
            session,
            action=AuditAction.LOGIN_FAILED,
            entity=AuditEntity.USER,
            entity_id=user.id,
            user_id=user.id,
        )
        if user.failed_logins >= settings.max_failed_logins:
            user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
            user.failed_logins = 0
            audit.record(
                session,
                action=AuditAction.ACCOUNT_LOCKED,
                entity=AuditEntity.USER,
                entity_id=user.id,
                user_id=user.id,
            )
            return LoginResult(None, "login.locked", user.locked_until)
        return LoginResult(None, "login.bad_credentials")
    if not user.is_active:
        return LoginResult(None, "login.disabled")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    audit.record(
        session, action=AuditAction.LOGIN, entity=AuditEntity.USER, entity_id=user.id, user_id=user.id
    )
    return LoginResult(user)


def session_expired(last_seen: datetime, *, now: datetime | None = None) -> bool:
    """True once a signed-in session has been idle longer than the configured minutes."""
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    return (now or utcnow()) - last_seen > idle


@dataclass
class UserInput:
    """What the users page or `user add` knows about an account."""

    username: str
    role: str = "rep"
    display_name: str | None = None
    email: str | None = None
    region: str | None = None
    industry: str | None = None
    team: str | None = None
    is_active: bool = True


def _check_user(user_in: UserInput) -> list[FieldError]:
    errors = []
    if not _USERNAME.match(user_in.username):
        errors.append(FieldError("username", "error.username_invalid", {"value": user_in.username}))
    if user_in.role not in ROLES:
        errors.append(FieldError("role", "error.role_invalid", {"value": user_in.role}))
    if user_in.email:
        try:
            user_in.email = normalize_email(user_in.email)
        except ValueError:
            errors.append(FieldError("email", "error.email_invalid", {"value": user_in.email}))
    return errors


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def add_user(session: Session, user_in: UserInput, *, password: str | None, actor: Actor) -> User:
    """Create an account (the CLI and the first-run form act as SYSTEM)."""
    require(actor, "users.manage")
    user_in.username = (clean(user_in.username) or "").lower()
    errors = _check_user(user_in)
    if password is not None:
        try:
            check_password(password)
        except ValidationError as exc:
            errors.extend(exc.errors)
    if not errors and find_user(session, user_in.username):
        errors.append(FieldError("username", "error.username_taken", {"value": user_in.username}))
    errors.extend(_email_taken(session, user_in, errors, user_id=None))
    if errors:
        raise ValidationError(errors)
    user = User(
        username=user_in.username,
        display_name=clean(user_in.display_name) or user_in.username,
        email=user_in.email,
        role=user_in.role,
        region=clean(user_in.region),
        industry=clean(user_in.industry),
        team=clean(user_in.team),
        is_active=user_in.is_active,
        password_hash=hash_password(password) if password is not None else None,
    )
    session.add(user)
    session.flush()
    fields = {name: getattr(user, name) for name in ("username", *USER_FIELDS)}
    _record_account_change(session, actor, user, AuditAction.CREATE, audit.diff({}, fields))
    return user


def update_user(session: Session, username: str, *, actor: Actor, **changes: object) -> User:
    """Change role, routing attributes, display name, e-mail or active flag."""
    require(actor, "users.manage")
    user = _get(session, username)
    unknown = set(changes) - set(USER_FIELDS)
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
    before = {name: getattr(user, name) for name in USER_FIELDS}
    proposed = UserInput(username=user.username, **{**before, **changes})
    errors = _check_user(proposed)
    errors.extend(_email_taken(session, proposed, errors, user_id=user.id))
    if _removes_last_admin(session, user, proposed):
        field = "role" if proposed.role != "admin" else "is_active"
        errors.append(FieldError(field, "error.last_admin", {"value": user.username}))
    if errors:
        raise ValidationError(errors)
    for name in changes:
        value = getattr(proposed, name)
        setattr(user, name, clean(value) if isinstance(value, str) else value)
    user.display_name = user.display_name or user.username
    if before["is_active"] and not user.is_active:
        revoke_user_sessions(session, user_id=user.id)  # a disabled user is signed out everywhere
    after = {name: getattr(user, name) for name in USER_FIELDS}
    _record_account_change(session, actor, user, AuditAction.UPDATE, audit.diff(before, after))
    return user


def _email_taken(
    session: Session, user_in: UserInput, errors: list[FieldError], *, user_id: int | None
) -> list[FieldError]:
    """An error when another account already signs in with this e-mail (checked once it is valid)."""
    if not user_in.email or any(error.field == "email" for error in errors):
        return []
    owner = session.scalar(select(User.id).where(func.lower(User.email) == user_in.email.lower()))
    if owner is None or owner == user_id:
        return []
    return [FieldError("email", "error.email_taken", {"value": user_in.email})]


def _removes_last_admin(session: Session, user: User, proposed: UserInput) -> bool:
    """True when the change would leave no active administrator to manage the accounts."""
    if not (user.role == "admin" and user.is_active) or (proposed.role == "admin" and proposed.is_active):
        return False
    others = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == "admin", User.is_active.is_(True), User.id != user.id)
    )
    return not others


def set_password(session: Session, username: str, password: str, *, actor: Actor) -> User:
    """Set a new password (an admin's reset or the CLI); also lifts a lock-out."""
    require(actor, "users.manage")
    check_password(password)
    user = _get(session, username)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    revoke_user_sessions(session, user_id=user.id)  # whoever knew the old password is signed out
    _record_account_change(session, actor, user, AuditAction.PASSWORD_RESET, None)
    return user


def _record_account_change(
    session: Session, actor: Actor, user: User, action: AuditAction, changes: dict[str, list[object]] | None
) -> None:
    """Audit a change to an account by an administrator, the CLI or the first-run form (SYSTEM)."""
    audit.record(
        session,
        action=action,
        entity=AuditEntity.USER,
        entity_id=user.id,
        user_id=actor.user_id,
        changes=changes,
    )


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


USER_TABLE_COLUMNS = [
    "username", "display_name", "email", "role", "region", "industry", "team",
    "is_active", "locked_until", "last_login_at",
]  # fmt: skip


def user_table(session: Session, *, actor: Actor, now: datetime | None = None) -> pd.DataFrame:
    """Every account for the users page; `locked_until` only while the lock-out still holds."""
    require(actor, "users.manage")
    now = now or utcnow()
    rows = [
        {
            **{name: getattr(user, name) for name in USER_TABLE_COLUMNS},
            "locked_until": user.locked_until if user.locked_until and user.locked_until > now else None,
        }
        for user in list_users(session)
    ]
    return pd.DataFrame(rows, columns=USER_TABLE_COLUMNS)


def _get(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise NotFound("user", username)
    return user


class SetupDone(Exception):
    """The first admin already exists; further accounts are made by an admin."""


def create_first_admin(session: Session, user_in: UserInput, *, password: str) -> User:
    """The first-run account: only while the database has no user at all."""
    if session.get_bind().dialect.name == "postgresql":
        # Two people submitting the first-run form at once must not both become admin: serialise the
        # check-then-insert (SQLite already serialises writers).
        session.execute(text("SELECT pg_advisory_xact_lock(7101)"))
    if count_users(session) > 0:
        raise SetupDone()
    user_in.role = "admin"
    return add_user(session, user_in, password=password, actor=SYSTEM)


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


def username_for(name: str, taken: set[str]) -> str:
    """A free username that `add_user` accepts, from a display name: "Li Lei" -> "li.lei", "王五" -> "owner".

    Only [a-z0-9._-] can sign in as a username, so a name without such characters gets "owner", "owner2"...
    """
    base = re.sub(r"[^0-9a-z]+", ".", name.casefold()).strip(".-_")[:56]
    if len(base) < 2 or not base[0].isalnum():
        base = "owner"
    candidate, n = base, 2
    while candidate.casefold() in taken:
        candidate, n = f"{base}{n}", n + 1
    return candidate


def create_inactive_owner(session: Session, *, display_name: str, actor: Actor) -> User:
    """An inactive rep for an owner an import names who has no account yet; an admin activates it later.

    Whoever may assign leads may name a new owner; the account cannot sign in until an administrator
    gives it a password and activates it (its username is one `update_user` accepts).
    """
    require(actor, "customer.assign")
    taken = {name.casefold() for name in session.scalars(select(User.username))}
    user_in = UserInput(
        username=username_for(display_name, taken), display_name=display_name, is_active=False
    )
    errors = _check_user(user_in)
    if errors:
        raise ValidationError(errors)
    user = User(
        username=user_in.username, display_name=display_name, role="rep", is_active=False, password_hash=None
    )
    session.add(user)
    session.flush()
    fields = {"username": user.username, "display_name": display_name, "is_active": False}
    _record_account_change(session, actor, user, AuditAction.IMPORT_CREATE, audit.diff({}, fields))
    return user

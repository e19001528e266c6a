"""Accounts: argon2 password hashes, sign-in with lock-out, idle expiry, and user administration."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import case, func, or_, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from funnel.access.permissions import ROLES, SYSTEM, Actor, require
from funnel.accounts.sessions import revoke_user_sessions
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.core.clock import utcnow
from funnel.core.errors import FieldError, NotFound, ValidationError
from funnel.core.i18n import rule_params
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


# Published (README, `demo` output, the sign-in page's hint): every demo account signs in with it, but
# only while the settings allow demo data. It lives here, beside the sign-in that refuses it, because
# accounts/ may not import demo/ (funnel.demo.catalog re-exports it).
DEMO_PASSWORD = "loudou-demo"


@lru_cache(maxsize=64)
def is_demo_password_hash(password_hash: str) -> bool:
    """Whether `password_hash` opens with DEMO_PASSWORD; one argon2 verify per hash, then remembered.

    The verdict cannot change (the hash names its salt and costs), and the sign-in page asks on every
    anonymous view: without the cache each view costs an argon2 verify, which is a cheap way to load the
    server for anyone who can reach the sign-in page.
    """
    return verify_password(password_hash, DEMO_PASSWORD)


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
    user = find_user(session, login)
    # One argon2 verify on every path, before any decision: the locked and unknown paths must cost
    # what a wrong password costs.
    password_ok = _verify_evenly(user.password_hash if user else None, password)
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
    # No e-mail is NULL, never "": e-mail is unique, and a second account stored with "" would collide.
    user_in.email = clean(user_in.email)
    if not _USERNAME.match(user_in.username):
        errors.append(FieldError("username", "error.username_invalid", {"value": user_in.username}))
    if user_in.role not in ROLES:
        errors.append(FieldError("role", "error.role_invalid", {"value": user_in.role}))
    if user_in.email:
        try:
            user_in.email = normalize_email(user_in.email)
        except ValueError:
            errors.append(FieldError("email", "error.email_invalid", {"value": user_in.email}))
    # Each text within its column (PostgreSQL refuses a longer one, and the whole save with it) and
    # without a NUL byte (which neither database stores).
    for name in ("display_name", "email", "region", "industry", "team"):
        value = getattr(user_in, name)
        limit = getattr(User.__table__.c[name].type, "length", None)
        if isinstance(value, str) and "\x00" in value:
            errors.append(FieldError(name, "error.invalid_characters"))
        elif isinstance(value, str) and limit and len(value) > limit:
            errors.append(FieldError(name, "error.too_long", {"max": str(limit), "length": str(len(value))}))
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
    # Two people submitting the first-run form at once must not both become admin: the check and the
    # insert run as one serialised step on either backend.
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7101)"))
    elif connection.dialect.name == "sqlite" and not getattr(
        connection.connection.driver_connection, "in_transaction", True
    ):
        # SQLite lets any number of readers count zero users before the first writer commits: take the
        # write lock before counting (the busy timeout makes a second form wait for the first). Python's
        # sqlite3 opens no transaction for a SELECT, so none is open unless this session has written,
        # and a session that has written holds the write lock already.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
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

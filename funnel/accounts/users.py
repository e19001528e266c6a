"""User administration: accounts, their fields and roles, the first administrator, owners from imports."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import Session

from funnel.access.permissions import ROLES, SYSTEM, Actor, require
from funnel.accounts.passwords import check_password, hash_password
from funnel.accounts.sessions import revoke_user_sessions
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.core.clock import utcnow
from funnel.core.errors import FieldError, NotFound, PermissionDenied, ValidationError
from funnel.core.i18n import LANGUAGES
from funnel.core.validation import clean, normalize_email
from funnel.store.models import User

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


USER_FIELDS = ("display_name", "email", "role", "region", "industry", "team", "is_active")


def find_user(session: Session, login: str) -> User | None:
    """A user by username (case-insensitive) or e-mail."""
    text = login.strip().lower()
    if not text:
        return None
    return session.scalars(
        select(User).where(or_(func.lower(User.username) == text, func.lower(User.email) == text))
    ).first()


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


def saved_language(session: Session, user_id: int | None) -> str | None:
    """The UI language the user last chose, if any."""
    if user_id is None:
        return None
    return session.scalar(select(User.language).where(User.id == user_id))


def save_language(session: Session, *, actor: Actor, lang: str) -> None:
    """Remember the signed-in user's choice of UI language (their own preference: no permission needed,
    but a principal without an account, the system or a prospect, has none to keep)."""
    if actor.user_id is None:
        raise PermissionDenied("language.save")
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}")
    session.execute(update(User).where(User.id == actor.user_id).values(language=lang))

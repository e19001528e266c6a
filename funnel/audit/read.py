"""Reading the audit trail: the log as a table, and one customer's history as field changes."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.access.permissions import EVERYTHING, Actor, customer_scope, require, require_customer
from funnel.core.db import get_by_id
from funnel.core.errors import NotFound
from funnel.store.models import AuditLog, Customer, User

AUDIT_COLUMNS = ["at", "user", "action", "entity", "entity_id", "customer_id", "customer_no", "changes"]


def audit_entries(
    session: Session,
    *,
    actor: Actor,
    customer_id: int | None = None,
    action: str | None = None,
    username: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = 1000,
) -> pd.DataFrame:
    """Audit rows, newest first. A customer's own history is readable by whoever may read the customer.

    The whole log is for roles with "audit.read", limited to what they may see: a team's manager reads
    the rows about the team's customers, not other teams' nor the rows about users and sign-ins.
    """
    if customer_id is not None:
        customer = get_by_id(session, Customer, customer_id)
        if customer is None:
            raise NotFound("customer", customer_id)
        require_customer(session, actor, customer, "customer.read")
    else:
        require(actor, "audit.read")
    stmt = (
        select(
            AuditLog.at,
            User.username.label("user"),
            AuditLog.action,
            AuditLog.entity,
            AuditLog.entity_id,
            AuditLog.customer_id,
            Customer.customer_no,
            AuditLog.changes,
        )
        .outerjoin(User, User.id == AuditLog.user_id)
        .outerjoin(Customer, Customer.id == AuditLog.customer_id)
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
        .limit(limit)
    )
    if customer_id is not None:
        stmt = stmt.where(AuditLog.customer_id == customer_id)
    else:
        scope = customer_scope(session, actor)
        if scope is not EVERYTHING:
            visible = select(Customer.id).where(*scope.conditions())
            stmt = stmt.where(AuditLog.customer_id.in_(visible))
    if action:
        stmt = stmt.where(AuditLog.action == action)
    if username:
        stmt = stmt.where(User.username == username)
    if since:
        stmt = stmt.where(AuditLog.at >= datetime.combine(since, time.min))
    if until:
        stmt = stmt.where(AuditLog.at < datetime.combine(until + timedelta(days=1), time.min))
    frame = pd.DataFrame(session.execute(stmt).all(), columns=AUDIT_COLUMNS)
    # A deleted customer's number survives in its delete row; ids of users become their names.
    frame["customer_no"] = [
        no if isinstance(no, str) else _deleted_number(changes)
        for no, changes in zip(frame["customer_no"], frame["changes"], strict=True)
    ]
    names = _display_names(session, frame)
    frame["changes"] = [_named(changes, names) for changes in frame["changes"]]
    return frame


def _deleted_number(changes: object) -> str | None:
    if isinstance(changes, dict) and isinstance(changes.get("customer_no"), list):
        number = changes["customer_no"][0]
        return number if isinstance(number, str) else None
    return None


def _named(changes: object, names: dict[object, str]) -> dict[str, list[object]] | None:
    """The changes with user ids (owner, shared with) replaced by the users' display names."""
    if not isinstance(changes, dict):
        return None
    return {
        field: [names.get(value, value) for value in pair] if field in _USER_ID_FIELDS else pair
        for field, pair in changes.items()
    }


HISTORY_COLUMNS = ["at", "user", "action", "field", "old", "new"]
_USER_ID_FIELDS = ("owner_id", "shared_with")


def customer_history(session: Session, *, actor: Actor, customer_id: int) -> pd.DataFrame:
    """The customer's audit trail, one row per changed field (old -> new), newest first.

    User ids (owner, shared with) are replaced by the users' display names (by audit_entries).
    """
    entries = audit_entries(session, actor=actor, customer_id=customer_id)
    users = _display_names_by_username(session, entries)
    rows: list[tuple[object, ...]] = []
    for entry in entries.itertuples(index=False):
        # A row by the system or a prospect has no user: pandas hands that over as NaN, not None.
        who = users.get(entry.user, entry.user) if isinstance(entry.user, str) else None
        changes: dict[str, list[object]] = entry.changes or {}
        if not changes:
            rows.append((entry.at, who, entry.action, None, None, None))
        for field_name, (old, new) in changes.items():
            rows.append((entry.at, who, entry.action, field_name, old, new))
    frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    # Who, field, old and new values mix text, numbers and None: keep them as they are (pandas would
    # infer a string column and turn None into NaN, which is no user and no value).
    for column in ("user", "field", "old", "new"):
        frame[column] = pd.Series([row[HISTORY_COLUMNS.index(column)] for row in rows], dtype=object)
    return frame


def _display_names(session: Session, entries: pd.DataFrame) -> dict[object, str]:
    ids = {
        value
        for changes in entries["changes"]
        if changes
        for field_name in _USER_ID_FIELDS
        for value in changes.get(field_name, ())
        if isinstance(value, int)
    }
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))
    return {user_id: name for user_id, name in rows}


def _display_names_by_username(session: Session, entries: pd.DataFrame) -> dict[str, str]:
    usernames = {u for u in entries["user"] if isinstance(u, str)}
    if not usernames:
        return {}
    stmt = select(User.username, User.display_name).where(User.username.in_(usernames))
    return {username: name for username, name in session.execute(stmt)}

"""Finding an existing customer with the same phone, e-mail or WeChat, and saying so without leaking it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from funnel.core.db import take_write_lock
from funnel.core.errors import FieldError
from funnel.store.models import Contact, Customer

CONTACT_FIELDS = ("phone", "email", "wechat")


@dataclass(frozen=True)
class DuplicateMatch:
    """An existing customer with the same contact detail as a new lead; `field` names which one matched."""

    field: str
    customer: Customer


def duplicate_match(session: Session, contact: Mapping[str, str | None]) -> DuplicateMatch | None:
    """An existing customer with one of these normalised {phone, email, wechat} values, and which matched."""
    wanted = {name: contact.get(name) for name in CONTACT_FIELDS if contact.get(name)}
    if not wanted:
        return None
    stmt = (
        select(Customer, Contact.phone, Contact.email, Contact.wechat)
        .join(Contact)
        .where(or_(*(getattr(Contact, name) == value for name, value in wanted.items())))
        .limit(1)
    )
    row = session.execute(stmt).first()
    if row is None:
        return None
    field_name = next(name for name, value in wanted.items() if getattr(row, name) == value)
    return DuplicateMatch(field=field_name, customer=row.Customer)


# The first key of the two-key PostgreSQL advisory locks on contact values ("lo" in ASCII); two-key locks
# never collide with the one-key migration lock (funnel.core.db.MIGRATION_LOCK_KEY).
_CONTACT_LOCK_SPACE = 0x6C6F


def lock_intake(session: Session) -> None:
    """Hold, until the transaction ends, the one lock every "check for a duplicate, then store" takes.

    Without it two reps (or a rep and an import) saving the same person at once both find no duplicate
    and both store it. PostgreSQL: one transaction-scoped advisory lock, so the check after it sees the
    winner's committed row; SQLite: the database's write lock, taken before the check. One lock rather
    than one per contact value: an import batch checks a thousand people at once, and new leads arrive
    far slower than one such short transaction.
    """
    if session.get_bind().dialect.name != "postgresql":
        take_write_lock(session)
        return
    session.execute(text("SELECT pg_advisory_xact_lock(:space, 0)"), {"space": _CONTACT_LOCK_SPACE})


def duplicate_error(field_name: str, customer_no: str, *, visible: bool) -> FieldError:
    """The error on the lead's `field_name` that an existing customer already has.

    It names the existing customer only to someone allowed to see it: the form must not leak leads.
    """
    if visible:
        return FieldError(field_name, "error.duplicate", {"customer_no": customer_no})
    return FieldError(field_name, "error.duplicate_hidden")

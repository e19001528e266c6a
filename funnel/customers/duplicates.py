"""Finding an existing customer with the same phone, e-mail, WeChat, or company and name, and saying so
without leaking it.

Phones and e-mails are stored normalised (funnel.core.validation), so they compare as stored; a WeChat
id compares case-insensitively (WeChat ids are), and a company and name compare with their case and
whitespace folded, so "ACME  Ltd" / "li ming" finds "Acme Ltd" / "Li Ming".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, text
from sqlalchemy.orm import Session

from funnel.core.db import take_write_lock
from funnel.core.errors import FieldError, ValidationError
from funnel.store.models import Contact, Customer

CONTACT_FIELDS = ("phone", "email", "wechat")
# The field a company-and-name match is reported on (the form shows it under the company).
COMPANY_NAME = "company"


@dataclass(frozen=True)
class DuplicateMatch:
    """An existing customer with the same details as a new lead; `field` names which one matched."""

    field: str
    customer: Customer


def fold_key(value: str | None) -> str | None:
    """A company or a name as the duplicate check compares it: case folded, all whitespace removed."""
    if value is None:
        return None
    folded = "".join(value.split()).lower()
    return folded or None


def _folded(column: Any) -> ColumnElement[str]:
    # The SQL side of fold_key for the whitespace people type: spaces, tabs, full-width spaces, newlines.
    stripped = column
    for space in (" ", "\t", "\u3000", "\n", "\r"):
        stripped = func.replace(stripped, space, "")
    return func.lower(stripped)


def duplicate_match(
    session: Session,
    contact: Mapping[str, str | None],
    *,
    company: str | None = None,
    name: str | None = None,
) -> DuplicateMatch | None:
    """An existing customer with one of these normalised {phone, email, wechat} values, or with this
    company and name (both given), and which matched: a contact detail before the company and name."""
    wanted: dict[str, str] = {key: value for key in CONTACT_FIELDS if (value := contact.get(key))}
    if wanted:
        conditions: list[ColumnElement[bool]] = [
            func.lower(Contact.wechat) == value.lower() if key == "wechat" else getattr(Contact, key) == value
            for key, value in wanted.items()
        ]
        stmt = (
            select(Customer, Contact.phone, Contact.email, Contact.wechat)
            .join(Contact)
            .where(or_(*conditions))
            .order_by(Customer.id)
            .limit(1)
        )
        row = session.execute(stmt).first()
        if row is not None:
            field_name = next(key for key, value in wanted.items() if _same(key, getattr(row, key), value))
            return DuplicateMatch(field=field_name, customer=row.Customer)
    company_key, name_key = fold_key(company), fold_key(name)
    if company_key and name_key:
        found = session.scalars(
            select(Customer)
            .where(_folded(Customer.company) == company_key, _folded(Customer.name) == name_key)
            .order_by(Customer.id)
            .limit(1)
        ).first()
        if found is not None:
            return DuplicateMatch(field=COMPANY_NAME, customer=found)
    return None


def _same(key: str, stored: str | None, wanted: str) -> bool:
    if stored is None:
        return False
    return stored.lower() == wanted.lower() if key == "wechat" else stored == wanted


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
    if field_name == COMPANY_NAME:
        if visible:
            return FieldError(field_name, "error.duplicate_company", {"customer_no": customer_no})
        return FieldError(field_name, "error.duplicate_company_hidden")
    if visible:
        return FieldError(field_name, "error.duplicate", {"customer_no": customer_no})
    return FieldError(field_name, "error.duplicate_hidden")


@dataclass(frozen=True)
class DuplicateSummary:
    """What the lead form shows of the existing customer a new lead matched.

    `visible` False: the reader may not see that customer, so only the matched field is told (no number,
    name, company, stage or owner). `editable`: the reader may add a contact to it.
    """

    field: str
    visible: bool
    editable: bool
    customer_id: int | None = None
    customer_no: str | None = None
    name: str | None = None
    company: str | None = None
    stage: str | None = None
    status: str | None = None
    owner_name: str | None = None


class DuplicateLead(ValidationError):
    """A new lead matches an existing customer: the field error, plus what the form may show of it."""

    def __init__(self, summary: DuplicateSummary):
        self.summary = summary
        super().__init__([duplicate_error(summary.field, summary.customer_no or "", visible=summary.visible)])

"""A customer's contacts: add, edit, remove, each with a role in the decision.

The rule, kept here once: when any contact of a customer is a decision maker, exactly one of them is
the primary decision maker (the one a rep calls first). Marking another primary moves the mark; a
customer's first decision maker becomes primary; removing the primary passes it to the next one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from funnel.access.permissions import Actor, require_customer
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction
from funnel.core.db import get_by_id, take_write_lock
from funnel.core.errors import FieldError, NotFound, StaleEdit, ValidationError
from funnel.core.validation import clean
from funnel.customers.read import get_customer, stale_edit
from funnel.store.models import Contact, Customer

DECISION_MAKER = "decision_maker"
CONTACT_ROLES = (DECISION_MAKER, "influencer", "user", "gatekeeper", "other")
# Longest value of each text field (the contact table's column lengths).
CONTACT_FIELDS: dict[str, int] = {"name": 200, "title": 100, "phone": 32, "email": 255, "wechat": 64}


@dataclass(frozen=True)
class ContactRow:
    """A contact as a page shows it."""

    id: int
    name: str
    title: str | None
    phone: str | None
    email: str | None
    wechat: str | None
    role: str
    is_primary: bool
    version: int


def _row(contact: Contact) -> ContactRow:
    return ContactRow(
        id=contact.id,
        name=contact.name,
        title=contact.title,
        phone=contact.phone,
        email=contact.email,
        wechat=contact.wechat,
        role=contact.role,
        is_primary=bool(contact.is_primary),
        version=contact.version,
    )


def _contacts(session: Session, customer_id: int) -> list[Contact]:
    return list(
        session.scalars(select(Contact).where(Contact.customer_id == customer_id).order_by(Contact.id))
    )


def list_contacts(session: Session, *, actor: Actor, customer_id: int) -> list[ContactRow]:
    """The customer's contacts, the primary decision maker first."""
    get_customer(session, actor=actor, customer_id=customer_id)
    rows = [_row(c) for c in _contacts(session, customer_id)]
    return sorted(rows, key=lambda r: (not r.is_primary, r.role != DECISION_MAKER, r.id))


def _clean(values: Mapping[str, object]) -> dict[str, object]:
    """Checked values of a contact form; ValidationError naming each bad field."""
    errors: list[FieldError] = []
    out: dict[str, object] = {}
    for name, limit in CONTACT_FIELDS.items():
        value = clean(values.get(name))
        if value is not None and len(value) > limit:
            errors.append(FieldError(name, "error.too_long", {"max": str(limit), "length": str(len(value))}))
        elif value is not None and "\x00" in value:
            errors.append(FieldError(name, "error.invalid_characters"))
        out[name] = value
    if not out["name"] and not any(e.field == "name" for e in errors):
        errors.append(FieldError("name", "error.required"))
    role = clean(values.get("role")) or "other"
    if role not in CONTACT_ROLES:
        errors.append(FieldError("role", "error.contact_role_unknown", {"value": role}))
    out["role"] = role
    primary = bool(values.get("is_primary"))
    if primary and role != DECISION_MAKER:
        errors.append(FieldError("is_primary", "error.primary_needs_decision_maker"))
    out["is_primary"] = primary
    if errors:
        raise ValidationError(errors)
    return out


def _keep_one_primary(contacts: list[Contact], chosen: Contact | None) -> None:
    """Exactly one primary among the decision makers (none if there are none); `chosen` wins."""
    makers = [c for c in contacts if c.role == DECISION_MAKER]
    for contact in contacts:
        if contact.role != DECISION_MAKER:
            contact.is_primary = False
        contact.is_decision_maker = contact.role == DECISION_MAKER
    if not makers:
        return
    primary = chosen if chosen is not None and chosen in makers and chosen.is_primary else None
    if primary is None:
        marked = [c for c in makers if c.is_primary]
        primary = marked[0] if marked else makers[0]
    for contact in makers:
        contact.is_primary = contact is primary


def _editable_customer(session: Session, by: Actor, customer_id: int) -> Customer:
    take_write_lock(session)  # SQLite: read and write under one lock (see take_write_lock)
    customer = get_customer(session, actor=by, customer_id=customer_id)
    require_customer(session, by, customer, "customer.edit")
    return customer


def _audit(session: Session, by: Actor, customer: Customer, action: AuditAction, changes: dict) -> None:
    audit.record_customer(session, actor=by, customer=customer, action=action, changes=changes)


def add_contact(
    session: Session, *, actor: Actor, customer_id: int, values: Mapping[str, object]
) -> ContactRow:
    """Add a contact to a customer the actor may edit."""
    customer = _editable_customer(session, actor, customer_id)
    clean_values = _clean(values)
    contact = Contact(customer_id=customer.id, **clean_values)
    session.add(contact)
    session.flush()
    _keep_one_primary(_contacts(session, customer.id), contact)
    _audit(session, actor, customer, AuditAction.CONTACT_ADD, {"contact": [None, contact.name]})
    session.flush()
    return _row(contact)


def _contact_of(session: Session, customer: Customer, contact_id: int) -> Contact:
    contact = get_by_id(session, Contact, contact_id)
    if contact is None or contact.customer_id != customer.id:
        raise NotFound("contact", contact_id)
    return contact


def edit_contact(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    contact_id: int,
    values: Mapping[str, object],
    expected_version: int,
) -> ContactRow:
    """Save a contact's form; StaleEdit if someone saved it after `expected_version` was read."""
    customer = _editable_customer(session, actor, customer_id)
    contact = _contact_of(session, customer, contact_id)
    if contact.version != expected_version:
        raise stale_edit(session, customer)
    clean_values = _clean(values)
    before = {name: getattr(contact, name) for name in clean_values}
    changes = audit.diff(before, clean_values)
    if not changes:
        return _row(contact)
    for name, value in clean_values.items():
        setattr(contact, name, value)
    _keep_one_primary(_contacts(session, customer.id), contact)
    _audit(
        session, actor, customer, AuditAction.CONTACT_EDIT, {f"contact.{k}": v for k, v in changes.items()}
    )
    _flush(session, customer.customer_no)
    return _row(contact)


def _flush(session: Session, customer_no: str) -> None:
    """Write now; a colleague's save between the version check and the UPDATE is a stale edit too."""
    try:
        session.flush()
    except StaleDataError as exc:
        raise StaleEdit(customer_no) from exc


def remove_contact(
    session: Session, *, actor: Actor, customer_id: int, contact_id: int, expected_version: int
) -> None:
    """Remove a contact; the primary decision maker's mark passes to another decision maker."""
    customer = _editable_customer(session, actor, customer_id)
    contact = _contact_of(session, customer, contact_id)
    if contact.version != expected_version:
        raise stale_edit(session, customer)
    name = contact.name
    session.delete(contact)
    _flush(session, customer.customer_no)
    _keep_one_primary(_contacts(session, customer.id), None)
    _audit(session, actor, customer, AuditAction.CONTACT_REMOVE, {"contact": [name, None]})
    session.flush()

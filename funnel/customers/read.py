"""Reading customers: one customer the actor may see, the leads list, and the customer page's detail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from funnel.access.permissions import Actor, customer_scope, require, require_customer
from funnel.core.clock import utcnow
from funnel.core.db import get_by_id
from funnel.core.errors import FieldError, NotFound, StaleEdit, ValidationError
from funnel.core.settings import get_settings
from funnel.core.validation import clean
from funnel.customers.fields import EDITABLE_FIELDS
from funnel.pipeline.rules import current_stage
from funnel.store.models import (
    AuditLog,
    Contact,
    Contract,
    Customer,
    CustomerShare,
    CustomerTag,
    ListItem,
    Objection,
    Opportunity,
    Payment,
    StageEvent,
    User,
)

SYSTEM_NAME = "system"  # who an audit row without a user (import, jobs, public form) was written by


def stale_edit(session: Session, customer: Customer) -> StaleEdit:
    """The stale-edit error for `customer`, naming who saved it last (from the audit log) and when."""
    row = session.execute(
        select(AuditLog.at, User.display_name)
        .outerjoin(User, User.id == AuditLog.user_id)
        .where(AuditLog.customer_id == customer.id)
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return StaleEdit(customer.customer_no)
    at, name = row
    return StaleEdit(customer.customer_no, saved_by=name or SYSTEM_NAME, saved_at=f"{at:%Y-%m-%d %H:%M} UTC")


def flush_edit(session: Session, customer: Customer) -> None:
    """Write a customer's changes now; another save since it was read makes it a StaleEdit.

    The version check before an edit and its UPDATE are two statements: a colleague's save between them
    leaves the UPDATE (... WHERE version = n) matching no row, which is the same stale edit.
    """
    number = customer.customer_no  # read before the flush: after a failed one the session cannot load
    try:
        session.flush()
    except StaleDataError as exc:
        raise StaleEdit(number) from exc


def get_customer(session: Session, *, actor: Actor, customer_id: int) -> Customer:
    """One customer the actor may read; NotFound if it does not exist."""
    customer = get_by_id(session, Customer, customer_id)
    if customer is None:
        raise NotFound("customer", customer_id)
    require_customer(session, actor, customer, "customer.read")
    return customer


# What a search box accepts: long enough for any name, company or e-mail, short enough for an index.
MAX_SEARCH_LENGTH = 200


def search_text(raw: str | None) -> str | None:
    """The trimmed search text, or None; ValidationError on "search" for a NUL byte or an over-long text."""
    text = clean(raw)
    if text is None:
        return None
    if "\x00" in text:
        raise ValidationError([FieldError("search", "error.invalid_characters")])
    if len(text) > MAX_SEARCH_LENGTH:
        params = {"max": str(MAX_SEARCH_LENGTH), "length": str(len(text))}
        raise ValidationError([FieldError("search", "error.too_long", params)])
    return text


def _escape_like(text: str) -> str:
    """`%` and `_` typed in a search match themselves, not "anything"."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _exact_hits(session: Session, stmt: Any, text: str) -> Any:
    """`stmt` narrowed to an exact customer number, phone or e-mail match, if any customer has one.

    These are indexed lookups; a substring search (`%text%`) reads every row, ~10 s at a million
    customers, so a rep pasting a number or phone gets the indexed answer first.
    """
    digits = "".join(ch for ch in text if ch.isdigit())
    phone = digits if len(digits) >= 5 and all(ch.isdigit() or ch in " -+()" for ch in text) else None
    contact = select(Contact.customer_id).where(
        or_(Contact.email == text.lower(), *([Contact.phone.in_({phone, f"+{phone}"})] if phone else []))
    )
    narrowed = stmt.where(or_(Customer.customer_no.in_({text, text.upper()}), Customer.id.in_(contact)))
    found = session.execute(select(narrowed.subquery().c.id).limit(1)).first()
    return narrowed if found is not None else None


def _tag_match(text: str) -> Select[int]:
    """Customers carrying a tag whose code or name (either language) is `text` (whole, any case)."""
    folded = text.lower()
    return (
        select(CustomerTag.customer_id)
        .join(ListItem, ListItem.id == CustomerTag.tag_id)
        .where(
            ListItem.list_name == "tag",
            or_(
                func.lower(ListItem.code) == folded,
                func.lower(ListItem.name_en) == folded,
                ListItem.name_zh == text,
            ),
        )
    )


@dataclass(frozen=True)
class LeadFilters:
    """The leads list's filters; every one is optional and they combine with AND."""

    stages: tuple[str, ...] = ()
    owner_id: int | None = None
    team: str | None = None
    grades: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    tag: str | None = None  # a tag's code
    score_min: int | None = None
    score_max: int | None = None
    first_contact_overdue: bool = False
    created_from: datetime | None = None
    created_to: datetime | None = None  # exclusive

    def conditions(self, now: datetime) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.stages:
            out.append(Customer.stage.in_(self.stages))
        if self.owner_id is not None:
            out.append(Customer.owner_id == self.owner_id)
        if self.team:
            out.append(Customer.team == self.team)
        if self.grades:
            out.append(Customer.grade.in_(self.grades))
        if self.channels:
            out.append(Customer.channel.in_(self.channels))
        if self.tag:
            tagged = (
                select(CustomerTag.customer_id)
                .join(ListItem, ListItem.id == CustomerTag.tag_id)
                .where(ListItem.list_name == "tag", ListItem.code == self.tag)
            )
            out.append(Customer.id.in_(tagged))
        if self.score_min is not None:
            out.append(Customer.score >= self.score_min)
        if self.score_max is not None:
            out.append(Customer.score <= self.score_max)
        if self.first_contact_overdue:
            out.append(first_contact_overdue(now))
        if self.created_from is not None:
            out.append(Customer.created_at >= self.created_from)
        if self.created_to is not None:
            out.append(Customer.created_at < self.created_to)
        return out


def list_customers(
    session: Session,
    *,
    actor: Actor,
    search: str | None = None,
    status: str | None = None,
    limit: int = 500,
    now: datetime | None = None,
    filters: LeadFilters | None = None,
    offset: int = 0,
) -> pd.DataFrame:
    """The customers the actor may see, newest first, optionally matching a search text and filters.

    `first_contact_overdue` flags open leads nobody has contacted within the first-contact SLA. Pages
    come by `limit` and `offset` (in SQL: the newest-first index serves a page without sorting all rows).
    """
    require(actor, "customer.read")
    stmt = (
        select(
            Customer.id,
            Customer.customer_no,
            Customer.name,
            Customer.company,
            Customer.channel,
            Customer.region,
            Customer.industry,
            User.display_name.label("owner"),
            Customer.grade,
            Customer.stage,
            Customer.status,
            Customer.created_at,
            Customer.first_contacted_at,
            first_contact_overdue(now or utcnow()).label("first_contact_overdue"),
        )
        .outerjoin(User, User.id == Customer.owner_id)
        .where(*customer_scope(session, actor).conditions())
        .order_by(Customer.created_at.desc(), Customer.id.desc())
        .limit(limit)
    )
    if status:
        stmt = stmt.where(Customer.status == status)
    if filters is not None:
        stmt = stmt.where(*filters.conditions(now or utcnow()))
    stmt = stmt.offset(max(offset, 0))
    text = search_text(search)
    exact = _exact_hits(session, stmt, text) if text else None
    if exact is not None:
        stmt = exact
    elif text:
        like = f"%{_escape_like(text)}%"
        # Phones are stored as digits; a rep types them with spaces or dashes ("138 1234 5678").
        digits = "".join(ch for ch in text if ch.isdigit())
        looks_like_phone = len(digits) >= 3 and all(ch.isdigit() or ch in " -+()" for ch in text)
        phone_like = f"%{digits}%" if looks_like_phone else like
        contact_match = select(Contact.customer_id).where(
            or_(
                Contact.phone.like(like, escape="\\"),
                Contact.phone.like(phone_like, escape="\\"),
                Contact.email.ilike(like, escape="\\"),
                Contact.wechat.ilike(like, escape="\\"),
            )
        )
        stmt = stmt.where(
            or_(
                Customer.name.ilike(like, escape="\\"),
                Customer.company.ilike(like, escape="\\"),
                Customer.customer_no.ilike(like, escape="\\"),
                Customer.id.in_(contact_match),
                Customer.id.in_(_tag_match(text)),
            )
        )
    rows = session.execute(stmt).all()
    frame = pd.DataFrame(rows, columns=list(stmt.selected_columns.keys()))
    # SQLite answers the flag as 0/1, PostgreSQL as a boolean.
    frame["first_contact_overdue"] = frame["first_contact_overdue"].astype(bool)
    return frame


def first_contact_overdue(now: datetime, sla_hours: int | None = None) -> ColumnElement[bool]:
    """SQL: an open customer without a first contact, created longer than the SLA before `now`."""
    hours = get_settings().first_contact_sla_hours if sla_hours is None else sla_hours
    return and_(
        Customer.status == "open",
        Customer.first_contacted_at.is_(None),
        Customer.created_at < now - timedelta(hours=hours),
    )


@dataclass(frozen=True)
class UserChoice:
    """A user a customer can be assigned to or shared with."""

    id: int
    display_name: str
    role: str


@dataclass(frozen=True)
class CustomerDetail:
    """Everything the customer page shows, read in one go, detached from the session."""

    id: int
    customer_no: str
    version: int
    stage: str
    status: str
    # Where it stands for a stage move: the outcome once closed, else the open stage.
    current_stage: str
    owner_id: int | None
    owner: str | None
    lost_reason: str | None
    score: int | None
    created_at: datetime
    first_contacted_at: datetime | None
    closed_at: datetime | None
    first_contact_overdue: bool
    # The EDITABLE_FIELDS, as stored (None when empty).
    fields: dict[str, str | None]
    shared_with: tuple[str, ...]
    shares: tuple[UserChoice, ...]  # the same users, for taking a share back
    contacts: pd.DataFrame
    stage_events: pd.DataFrame
    opportunities: pd.DataFrame
    contracts: pd.DataFrame
    payments: pd.DataFrame
    objections: pd.DataFrame

    @property
    def name(self) -> str:
        return self.fields["name"] or ""


CONTACT_COLUMNS = ["name", "title", "phone", "email", "wechat", "is_primary", "is_decision_maker"]
STAGE_EVENT_COLUMNS = ["at", "from_stage", "to_stage", "by"]
OPPORTUNITY_COLUMNS = ["name", "amount", "expected_close", "quoted_at", "created_at"]
OBJECTION_COLUMNS = ["created_at", "category", "stage", "status", "detail"]
CONTRACT_COLUMNS = ["contract_no", "amount", "signed_on", "status"]
PAYMENT_COLUMNS = ["received_on", "amount"]


def customer_detail(
    session: Session, *, actor: Actor, customer_id: int, now: datetime | None = None
) -> CustomerDetail:
    """The customer with contacts, stage history, deals, orders, payments, objections (permission-checked)."""
    customer = get_customer(session, actor=actor, customer_id=customer_id)
    overdue = session.scalar(select(first_contact_overdue(now or utcnow())).where(Customer.id == customer.id))
    shares = session.execute(
        select(User.id, User.display_name, User.role)
        .join(CustomerShare, CustomerShare.user_id == User.id)
        .where(CustomerShare.customer_id == customer.id)
        .order_by(User.display_name)
    ).all()
    cid = customer.id
    return CustomerDetail(
        id=customer.id,
        customer_no=customer.customer_no,
        version=customer.version,
        stage=customer.stage,
        status=customer.status,
        current_stage=current_stage(customer.stage, customer.status),
        owner_id=customer.owner_id,
        owner=customer.owner.display_name if customer.owner else None,
        lost_reason=customer.lost_reason,
        score=customer.score,
        created_at=customer.created_at,
        first_contacted_at=customer.first_contacted_at,
        closed_at=customer.closed_at,
        first_contact_overdue=bool(overdue),
        fields={name: getattr(customer, name) for name in EDITABLE_FIELDS},
        shared_with=tuple(name for _, name, _ in shares),
        shares=tuple(UserChoice(uid, name, role) for uid, name, role in shares),
        contacts=_frame(
            session,
            select(*(getattr(Contact, c) for c in CONTACT_COLUMNS))
            .where(Contact.customer_id == customer.id)
            .order_by(Contact.is_primary.desc(), Contact.id),
        ),
        stage_events=_frame(
            session,
            select(StageEvent.at, StageEvent.from_stage, StageEvent.to_stage, User.display_name.label("by"))
            .outerjoin(User, User.id == StageEvent.by_user_id)
            .where(StageEvent.customer_id == customer.id)
            .order_by(StageEvent.at, StageEvent.id),
        ),
        opportunities=_children(
            session, Opportunity, OPPORTUNITY_COLUMNS, cid, order_by=Opportunity.created_at
        ),
        contracts=_children(session, Contract, CONTRACT_COLUMNS, cid, order_by=Contract.signed_on),
        payments=_children(session, Payment, PAYMENT_COLUMNS, cid, order_by=Payment.received_on),
        objections=_children(session, Objection, OBJECTION_COLUMNS, cid, order_by=Objection.created_at),
    )


def _children(
    session: Session, model: Any, columns: list[str], customer_id: int, *, order_by: Any
) -> pd.DataFrame:
    """A customer's rows of one child table (deals, orders, ...), oldest first."""
    stmt = (
        select(*(getattr(model, c) for c in columns))
        .where(model.customer_id == customer_id)
        .order_by(order_by, model.id)
    )
    return _frame(session, stmt)


def _frame(session: Session, stmt: Select[*tuple[Any, ...]]) -> pd.DataFrame:
    return pd.DataFrame(session.execute(stmt).all(), columns=list(stmt.selected_columns.keys()))

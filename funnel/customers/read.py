"""Reading customers: one customer the actor may see, the leads list, and the customer page's detail."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Select, exists, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from funnel.access.permissions import (
    ROLE_PERMISSIONS,
    Actor,
    customer_scope,
    managed_team,
    require,
    require_customer,
)
from funnel.core.clock import utcnow
from funnel.core.db import get_by_id
from funnel.core.errors import FieldError, NotFound, StaleEdit, ValidationError
from funnel.core.validation import clean
from funnel.customers.deadline import SLA_STATES, first_contact_overdue_sql, first_contact_state_sql
from funnel.customers.fields import EDITABLE_FIELDS
from funnel.customers.search import search_condition
from funnel.pipeline.rules import current_stage
from funnel.store.models import (
    Activity,
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
    Task,
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
    sla: str | None = None  # a first-contact state: funnel.customers.deadline.SLA_STATES
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
        if self.sla:
            if self.sla not in SLA_STATES:
                raise ValidationError([FieldError("sla", "leads.error.choice_invalid", {"value": self.sla})])
            out.append(first_contact_state_sql(self.sla, now))
        if self.created_from is not None:
            out.append(Customer.created_at >= self.created_from)
        if self.created_to is not None:
            out.append(Customer.created_at < self.created_to)
        return out


def deal_amount() -> ColumnElement[Any]:
    """SQL per customer: the amount of its deals (opportunities), None without any (the stored sum,
    funnel.store.deal_amounts)."""
    return Customer.opportunity_amount.expression


def last_activity_at() -> ColumnElement[Any]:
    """SQL per customer: when its latest activity (call, visit, note ...) happened, None without any."""
    return (
        select(func.max(Activity.at))
        .where(Activity.customer_id == Customer.id)
        .correlate(Customer)
        .scalar_subquery()
    )


def stage_since() -> ColumnElement[Any]:
    """SQL per customer: when it entered its current stage (its latest stage event into that stage)."""
    return (
        select(func.max(StageEvent.at))
        .where(StageEvent.customer_id == Customer.id, StageEvent.to_stage == Customer.stage)
        .correlate(Customer)
        .scalar_subquery()
    )


def task_overdue(now: datetime) -> ColumnElement[bool]:
    """SQL per customer: one of its tasks is open and past its due time at `now`."""
    return exists().where(Task.customer_id == Customer.id, Task.done_at.is_(None), Task.due_at < now)


# How the list can be ordered: each a tuple of ORDER BY terms, the id last so pages never overlap.
# newest/oldest/score/win_probability are served by an index; last activity and amount are computed per row
# of the filter (fine for a team's list, slow over a million unfiltered rows: see the README's figures).
SORTS: dict[str, Callable[[], tuple[Any, ...]]] = {
    "newest": lambda: (Customer.created_at.desc(), Customer.id.desc()),
    "oldest": lambda: (Customer.created_at.asc(), Customer.id.asc()),
    "score": lambda: (Customer.score.desc().nulls_last(), Customer.id.desc()),
    "win_probability": lambda: (Customer.win_probability.desc().nulls_last(), Customer.id.desc()),
    "last_activity": lambda: (last_activity_at().desc().nulls_last(), Customer.id.desc()),
    "amount": lambda: (deal_amount().desc().nulls_last(), Customer.id.desc()),
}
SORT_KEYS = tuple(SORTS)


def _conditions(
    session: Session,
    *,
    actor: Actor,
    search: str | None,
    status: str | None,
    filters: LeadFilters | None,
    now: datetime,
) -> list[ColumnElement[bool]]:
    """The WHERE of the leads list: the actor's scope, the status, the filters and the search text."""
    require(actor, "customer.read")
    conds: list[ColumnElement[bool]] = [*customer_scope(session, actor).conditions()]
    if status:
        conds.append(Customer.status == status)
    if filters is not None:
        conds.extend(filters.conditions(now))
    text = search_text(search)
    if not text:
        return conds
    return [*conds, search_condition(session, conds, text)]


LEAD_COLUMNS = (
    "id", "customer_no", "name", "company", "channel", "region", "industry", "owner", "grade", "stage",
    "status", "score", "win_probability", "amount", "tags", "created_at", "first_contacted_at",
    "last_activity", "stage_since", "version", "first_contact_overdue", "task_overdue",
)  # fmt: skip


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
    sort: str = "newest",
) -> pd.DataFrame:
    """The customers the actor may see, in `sort` order (newest first), matching a search text and filters.

    `first_contact_overdue` flags open leads past their first-contact deadline (the timers' deadline,
    business hours included). Pages come by `limit` and `offset` in SQL: the newest-first index (or the
    score / win-probability index) serves a page without sorting all rows.
    """
    if sort not in SORTS:
        raise ValidationError([FieldError("sort", "leads.error.choice_invalid", {"value": sort})])
    now = now or utcnow()
    conds = _conditions(session, actor=actor, search=search, status=status, filters=filters, now=now)
    # The page's ids first, then its rows: with an offset the database skips rows of the id query alone,
    # where skipping rows of the full query computed every per-row subquery below for each skipped row
    # (the last page of a million customers took over 5 minutes on SQLite).
    page_ids = (
        select(Customer.id)
        .where(*conds)
        .order_by(*SORTS[sort]())
        .limit(limit)
        .offset(max(offset, 0))
        .scalar_subquery()
    )
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
            Customer.score,
            Customer.win_probability,
            deal_amount().label("amount"),
            Customer.tags,
            Customer.created_at,
            Customer.first_contacted_at,
            last_activity_at().label("last_activity"),
            stage_since().label("stage_since"),
            Customer.version,
            first_contact_overdue(now).label("first_contact_overdue"),
            task_overdue(now).label("task_overdue"),
        )
        .outerjoin(User, User.id == Customer.owner_id)
        .where(Customer.id.in_(page_ids))
        .order_by(*SORTS[sort]())
    )
    rows = session.execute(stmt).all()
    frame = pd.DataFrame(rows, columns=list(LEAD_COLUMNS))
    # SQLite answers the flag as 0/1, PostgreSQL as a boolean.
    frame["first_contact_overdue"] = frame["first_contact_overdue"].astype(bool)
    frame["task_overdue"] = frame["task_overdue"].astype(bool)
    frame["amount"] = pd.to_numeric(frame["amount"]).astype("float64")
    return frame


def count_customers(
    session: Session,
    *,
    actor: Actor,
    search: str | None = None,
    status: str | None = None,
    filters: LeadFilters | None = None,
    now: datetime | None = None,
) -> int:
    """How many customers the leads list holds over all its pages (same scope, search and filters)."""
    conds = _conditions(
        session, actor=actor, search=search, status=status, filters=filters, now=now or utcnow()
    )
    return int(session.scalar(select(func.count()).select_from(Customer).where(*conds)) or 0)


@dataclass(frozen=True)
class BoardColumn:
    """One stage of the board: its open customers in the filter (count, amount) and the first cards."""

    stage: str
    count: int
    amount: float
    cards: pd.DataFrame  # list_customers' columns, at most the board's cards per column

    @property
    def more(self) -> int:
        return max(self.count - len(self.cards), 0)


def board(
    session: Session,
    *,
    actor: Actor,
    stages: Sequence[str],
    search: str | None = None,
    filters: LeadFilters | None = None,
    per_column: int = 10,
    sort: str = "newest",
    now: datetime | None = None,
) -> list[BoardColumn]:
    """The open customers by stage: counts and amounts over the whole filter, the first cards per stage."""
    now = now or utcnow()
    conds = _conditions(session, actor=actor, search=search, status="open", filters=filters, now=now)
    # One pass over the filter (the board index covers the usual filters): each stage's count and the sum
    # of its customers' deal amounts (a covering index probe per customer).
    totals = {
        stage: (count, amount)
        for stage, count, amount in session.execute(
            select(Customer.stage, func.count(), func.sum(deal_amount()))
            .where(*conds, Customer.stage.in_(stages))
            .group_by(Customer.stage)
        )
    }
    base = filters or LeadFilters()
    columns = []
    for stage in stages:
        count, amount = totals.get(stage, (0, 0))
        cards = (
            list_customers(
                session,
                actor=actor,
                search=search,
                status="open",
                limit=per_column,
                now=now,
                filters=replace(base, stages=(stage,)),
                sort=sort,
            )
            if count
            else pd.DataFrame(columns=list(LEAD_COLUMNS))
        )
        columns.append(BoardColumn(stage, int(count), float(amount or 0), cards))
    return columns


def owner_choices(session: Session, *, actor: Actor) -> list[UserChoice]:
    """The users the leads list can filter by owner: those whose customers the actor may see."""
    require(actor, "customer.read")
    scope = customer_scope(session, actor)
    stmt = select(User.id, User.display_name, User.role).order_by(User.display_name, User.id)
    if scope.owner_ids is not None:
        stmt = stmt.where(User.id.in_(scope.owner_ids))
    else:
        workers = [role for role, actions in ROLE_PERMISSIONS.items() if "customer.edit" in actions]
        stmt = stmt.where(User.role.in_(workers))
    return [UserChoice(uid, name, role) for uid, name, role in session.execute(stmt)]


def team_choices(session: Session, *, actor: Actor) -> list[str]:
    """The teams the leads list can filter by (the manager of a team: that team only)."""
    require(actor, "customer.read")
    team = managed_team(actor)
    if team is not None:
        return [team]
    return list(
        session.scalars(select(User.team).where(User.team.is_not(None)).distinct().order_by(User.team))
    )


def first_contact_overdue(now: datetime) -> ColumnElement[bool]:
    """SQL: an open customer without a first contact whose first-contact deadline has passed at `now`.

    The same deadline as the timers (funnel.customers.deadline: the SLA, in business hours if so set).
    """
    return first_contact_overdue_sql(now)


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

"""Lead use cases: create a validated lead with its contact and stage history, move its stage."""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, allowed, can_see, require, require_customer
from funnel.audit import record as audit
from funnel.core.clock import utcnow
from funnel.core.errors import FieldError, NotFound, StaleEdit, ValidationError
from funnel.core.validation import clean, normalize_email, normalize_phone, normalize_wechat
from funnel.pipeline.stages import LOST, OUTCOMES, WON, Pipeline, get_pipeline
from funnel.store.models import Contact, Customer, Opportunity, StageEvent

GRADES = ("A", "B", "C")
STATUSES = ("open", WON, LOST)
_NO_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


@dataclass
class LeadInput:
    """What a form, an import row or the demo generator knows about a new lead."""

    name: str
    company: str | None = None
    contact_name: str | None = None
    phone: str | None = None
    email: str | None = None
    wechat: str | None = None
    channel: str | None = None
    region: str | None = None
    industry: str | None = None
    owner_id: int | None = None
    tags: str | None = None
    grade: str | None = None
    stage: str | None = None
    status: str = "open"
    lost_reason: str | None = None
    amount: Decimal | None = None
    created_at: datetime | None = None
    external_id: str | None = None
    # Known dates of reaching stages or outcomes: {"contact": ..., "won": ...}.
    stage_dates: dict[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class CleanLead:
    """A LeadInput after validation: normalised values and the resolved stage."""

    data: LeadInput
    stage: str
    status: str
    history: list[tuple[str, datetime]]


def new_customer_no(at: datetime, rng: random.Random | None = None) -> str:
    """A short human-readable number: C + yymmdd + 5 random characters (no 0/O/1/I).

    `rng` makes it reproducible (the demo); otherwise it is drawn from `secrets`.
    """
    choose = rng.choice if rng is not None else secrets.choice
    return f"C{at:%y%m%d}" + "".join(choose(_NO_ALPHABET) for _ in range(5))


def _unused_customer_no(session: Session, at: datetime) -> str:
    # 32^5 numbers per day: a clash is rare for a form, but checking costs one indexed lookup.
    while True:
        number = new_customer_no(at)
        if session.scalar(select(Customer.id).where(Customer.customer_no == number)) is None:
            return number


def parse_amount(raw: object) -> Decimal | None:
    text = clean(raw)
    if text is None:
        return None
    text = text.replace(",", "").replace("¥", "").replace("￥", "").replace("$", "")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(raw) from exc
    if value < 0 or not value.is_finite():
        raise ValueError(raw)
    return value


def validate_lead(
    lead: LeadInput, *, pipeline: Pipeline | None = None, require_contact: bool = True
) -> CleanLead:
    """Check and normalise a lead; raise ValidationError listing every bad field."""
    pipeline = pipeline or get_pipeline()
    errors: list[FieldError] = []
    lead.name = clean(lead.name) or ""
    if not lead.name:
        errors.append(FieldError("name", "error.required"))
    for name in ("company", "contact_name", "channel", "region", "industry", "tags", "lost_reason"):
        setattr(lead, name, clean(getattr(lead, name)))
    lead.external_id = clean(lead.external_id)
    checks = (("phone", normalize_phone), ("email", normalize_email), ("wechat", normalize_wechat))
    for name, normalize in checks:
        raw = clean(getattr(lead, name))
        if raw is None:
            setattr(lead, name, None)
            continue
        try:
            setattr(lead, name, normalize(raw))
        except ValueError:
            errors.append(FieldError(name, f"error.{name}_invalid", {"value": raw}))
    if (
        require_contact
        and not (lead.phone or lead.email or lead.wechat)
        and not any(e.field in ("phone", "email", "wechat") for e in errors)
    ):
        errors.append(FieldError("phone", "error.contact_required"))
    try:
        lead.amount = parse_amount(lead.amount)
    except ValueError:
        errors.append(FieldError("amount", "error.amount_invalid", {"value": str(lead.amount)}))
    grade = clean(lead.grade)
    lead.grade = grade.upper() if grade else None
    if lead.grade and lead.grade not in GRADES:
        errors.append(FieldError("grade", "error.grade_invalid", {"value": grade or ""}))
    status = (clean(lead.status) or "open").lower()
    stage = pipeline.first
    raw_stage = clean(lead.stage)
    if raw_stage:
        resolved = pipeline.resolve(raw_stage)
        if resolved is None:
            errors.append(FieldError("stage", "error.stage_unknown", {"value": raw_stage}))
        elif resolved in OUTCOMES:
            status = resolved
        else:
            stage = resolved
    resolved_status = pipeline.resolve(status) if status != "open" else "open"
    if resolved_status not in STATUSES:
        errors.append(FieldError("status", "error.status_unknown", {"value": status}))
    if errors:
        raise ValidationError(errors)
    assert resolved_status is not None
    created = lead.created_at or utcnow()
    lead.created_at = created
    history = _history(pipeline, stage=stage, status=resolved_status, created=created, dates=lead.stage_dates)
    if resolved_status == WON:
        stage = WON
    elif resolved_status == LOST:
        # A lost lead stays at the furthest stage it reached, so losses can be located.
        reached = [key for key, _ in history if key not in OUTCOMES]
        stage = max(reached, key=pipeline.rank)
    return CleanLead(data=lead, stage=stage, status=resolved_status, history=history)


def _history(
    pipeline: Pipeline, *, stage: str, status: str, created: datetime, dates: dict[str, datetime]
) -> list[tuple[str, datetime]]:
    """Stage events to record: the first stage at creation, each dated stage, the named stage, the outcome."""
    events: dict[str, datetime] = {pipeline.first: dates.get(pipeline.first, created)}
    for key in pipeline.keys:
        if key in dates:
            events[key] = dates[key]
    if stage not in events:
        events[stage] = max(events.values())
    if status in OUTCOMES:
        events[status] = dates.get(status, max(events.values()))
    order = {key: i for i, key in enumerate([*pipeline.keys, *OUTCOMES])}
    return sorted(events.items(), key=lambda item: order[item[0]])


CONTACT_FIELDS = ("phone", "email", "wechat")


@dataclass(frozen=True)
class DuplicateMatch:
    """An existing customer with the same contact detail as a new lead; `field` names which one matched."""

    field: str
    customer: Customer


def duplicate_match(session: Session, lead: LeadInput) -> DuplicateMatch | None:
    """An existing customer with the same phone, e-mail or WeChat as this lead, and the field that matched."""
    wanted = {name: getattr(lead, name) for name in CONTACT_FIELDS if getattr(lead, name)}
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


def find_duplicate(session: Session, lead: LeadInput) -> Customer | None:
    """An existing customer with the same phone, e-mail or WeChat as this lead."""
    match = duplicate_match(session, lead)
    return match.customer if match else None


def duplicate_error(field_name: str, customer_no: str, *, visible: bool) -> FieldError:
    """The error on the lead's `field_name` that an existing customer already has.

    It names the existing customer only to someone allowed to see it: the form must not leak leads.
    """
    if visible:
        return FieldError(field_name, "error.duplicate", {"customer_no": customer_no})
    return FieldError(field_name, "error.duplicate_hidden")


def create_lead(
    session: Session,
    lead: LeadInput,
    *,
    actor: Actor | None = None,
    pipeline: Pipeline | None = None,
    allow_duplicate: bool = False,
    customer_no: str | None = None,
    require_contact: bool = True,
) -> Customer:
    """Validate and store a lead, its primary contact, stage history and opportunity (one transaction).

    The importer passes `customer_no` (checked unique in bulk) and `require_contact=False` for rows that
    carry an external id, which identifies them instead.
    """
    require(actor, "customer.create")
    cleaned = validate_lead(lead, pipeline=pipeline, require_contact=require_contact)
    if actor is not None and not allowed(actor, "customer.assign"):
        # A rep's new lead is their own; handing leads to others is a manager's call.
        lead.owner_id = actor.user_id
    if not allow_duplicate:
        match = duplicate_match(session, lead)
        if match is not None:
            visible = can_see(session, actor, match.customer)
            raise ValidationError([duplicate_error(match.field, match.customer.customer_no, visible=visible)])
    assert lead.created_at is not None
    customer = Customer(
        customer_no=customer_no or _unused_customer_no(session, lead.created_at),
        external_id=lead.external_id,
        name=lead.name,
        company=lead.company,
        industry=lead.industry,
        region=lead.region,
        channel=lead.channel,
        tags=lead.tags,
        owner_id=lead.owner_id,
        grade=lead.grade,
        stage=cleaned.stage,
        status=cleaned.status,
        lost_reason=lead.lost_reason,
        created_at=lead.created_at,
        updated_at=lead.created_at,
    )
    _apply_history_dates(customer, cleaned)
    session.add(customer)
    session.flush()
    session.add(
        Contact(
            customer_id=customer.id,
            name=lead.contact_name or lead.name,
            phone=lead.phone,
            email=lead.email,
            wechat=lead.wechat,
            is_primary=True,
            created_at=lead.created_at,
        )
    )
    by_user_id = actor.user_id if actor else None
    previous: str | None = None
    for key, at in cleaned.history:
        session.add(
            StageEvent(
                customer_id=customer.id, from_stage=previous, to_stage=key, at=at, by_user_id=by_user_id
            )
        )
        previous = key
    if lead.amount is not None:
        session.add(Opportunity(customer_id=customer.id, amount=lead.amount, created_at=lead.created_at))
    audit.record_customer(
        session,
        actor=actor,
        customer=customer,
        action="create",
        changes=audit.diff({}, audited_fields(customer)),
    )
    return customer


def _apply_history_dates(customer: Customer, cleaned: CleanLead) -> None:
    dates = dict(cleaned.history)
    later = [at for key, at in cleaned.history if key != cleaned.history[0][0] and key not in OUTCOMES]
    if later:
        customer.first_contacted_at = min(later)
    if cleaned.status in OUTCOMES:
        customer.closed_at = dates[cleaned.status]


AUDITED_FIELDS = (
    "name", "company", "industry", "region", "channel", "tags", "owner_id", "grade",
    "stage", "status", "lost_reason", "budget_range", "purchase_timeline", "use_case", "competitors",
)  # fmt: skip


def audited_fields(customer: Customer) -> dict[str, object]:
    return {name: getattr(customer, name) for name in AUDITED_FIELDS}


def current_stage(customer: Customer) -> str:
    """Where the customer stands: its outcome once closed (won or lost), else its open stage."""
    return customer.status if customer.status in OUTCOMES else customer.stage


def move_stage(
    session: Session,
    *,
    customer_id: int,
    to_stage: str,
    actor: Actor | None = None,
    at: datetime | None = None,
    expected_version: int | None = None,
    lost_reason: str | None = None,
    pipeline: Pipeline | None = None,
) -> Customer:
    """Move a customer to a stage or outcome, recording the event and the audit entry.

    Refused (ValidationError on "stage") when the customer is there already, and once it is won: a won
    deal stays closed. A lost one may be reopened.
    """
    pipeline = pipeline or get_pipeline()
    key = pipeline.resolve(to_stage)
    if key is None:
        raise ValidationError([FieldError("stage", "error.stage_unknown", {"value": to_stage})])
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("customer", customer_id)
    require_customer(session, actor, customer, "customer.edit")
    if expected_version is not None and customer.version != expected_version:
        raise StaleEdit(customer.customer_no)
    current = current_stage(customer)
    if key == current:
        raise ValidationError([FieldError("stage", "error.same_stage")])
    if current == WON:
        # The funnel counts a customer as having reached every stage it has an event for; moving a won
        # deal back would leave it counted as won while open. More business is a new opportunity.
        raise ValidationError([FieldError("stage", "error.won_is_final")])
    if key == LOST and not clean(lost_reason):
        raise ValidationError([FieldError("lost_reason", "error.required")])
    at = at or utcnow()
    before = audited_fields(customer)
    previous = customer.stage  # a lost customer's stage is where it was lost
    if key in OUTCOMES:
        customer.status = key
        customer.closed_at = at
        if key == WON:
            customer.stage = WON
        else:
            customer.lost_reason = clean(lost_reason)
    else:
        customer.status = "open"
        customer.stage = key
        customer.closed_at = None
        if customer.first_contacted_at is None and pipeline.rank(key) > 0:
            customer.first_contacted_at = at
    by_user_id = actor.user_id if actor else None
    session.add(
        StageEvent(customer_id=customer.id, from_stage=previous, to_stage=key, at=at, by_user_id=by_user_id)
    )
    audit.record_customer(
        session,
        actor=actor,
        customer=customer,
        action="stage_move",
        changes=audit.diff(before, audited_fields(customer)),
    )
    session.flush()
    return customer

"""Lead creation: validate what a form, an import row or a public form knows, and store the new lead.

`validate_lead` returns a new, fully typed `CleanLead` (it never changes its input); `create_lead` is
the one write path for a new customer (the importer calls it, or its bulk form, for every new row).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, allowed, can_see, require, require_customer
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.capture.scoring import intake_of, load_rules, new_lead_facts, score_facts
from funnel.core import events
from funnel.core.clock import utcnow
from funnel.core.db import rows_where_in, take_write_lock
from funnel.core.errors import FieldError, NotFound, ValidationError
from funnel.core.validation import clean, normalize_email, normalize_phone, normalize_wechat
from funnel.customers.duplicates import (
    CONTACT_FIELDS,
    DuplicateLead,
    DuplicateMatch,
    DuplicateSummary,
    duplicate_match,
    lock_intake,
)
from funnel.customers.fields import AUDITED_FIELDS, OPEN, STATUSES, clean_grade, clean_text
from funnel.customers.lists import ListValue
from funnel.customers.numbering import unused_customer_no
from funnel.customers.tags import TagNames, display_text
from funnel.pipeline.rules import first_contact, funnel_state, new_lead_history, stage_after
from funnel.pipeline.stages import OUTCOMES, Pipeline, get_pipeline
from funnel.store.bulk import BulkLoader
from funnel.store.models import (
    Activity,
    AuditLog,
    Contact,
    Customer,
    CustomerTag,
    Opportunity,
    StageEvent,
    User,
)  # fmt: skip

# The kind of activity a lead's first note is stored as.
NOTE = "note"
# The largest amount a Numeric(14, 2) column holds.
MAX_AMOUNT = Decimal("999999999999.99")


@dataclass(frozen=True)
class LeadInput:
    """What a form, an import row or the demo generator knows about a new lead, as typed."""

    name: str | None
    company: str | None = None
    contact_name: str | None = None
    phone: str | None = None
    email: str | None = None
    wechat: str | None = None
    channel: str | None = None
    campaign: str | None = None
    region: str | None = None
    industry: str | None = None
    owner_id: int | None = None
    team: str | None = None
    tags: str | None = None
    grade: str | None = None
    stage: str | None = None
    status: str | None = OPEN
    lost_reason: str | None = None
    amount: object = None
    created_at: datetime | None = None
    external_id: str | None = None
    # Known dates of reaching stages or outcomes: {"contact": ..., "won": ...}.
    stage_dates: dict[str, datetime] = field(default_factory=dict)
    # The form's first note, stored as a "note" activity by whoever entered the lead.
    note: str | None = None


@dataclass(frozen=True)
class CleanLead:
    """A lead after validation: trimmed, normalised, within every column's limits, its history resolved."""

    name: str
    company: str | None
    contact_name: str | None
    phone: str | None
    email: str | None
    wechat: str | None
    channel: str | None
    region: str | None
    industry: str | None
    owner_id: int | None
    team: str | None
    tags: str | None
    grade: str | None
    lost_reason: str | None
    external_id: str | None
    amount: Decimal | None
    created_at: datetime
    stage: str  # the `stage` column: the open stage, `won`, or where a lost lead was lost
    status: str
    history: tuple[tuple[str, datetime], ...]
    campaign: str | None = None
    note: str | None = None

    @property
    def contact(self) -> dict[str, str | None]:
        return {name: getattr(self, name) for name in CONTACT_FIELDS}


def parse_amount(raw: object) -> Decimal | None:
    """An amount as typed ("12,000", "¥3000"), or None when empty; ValueError when it is no amount."""
    if isinstance(raw, Decimal | int):
        value = Decimal(raw)
    elif isinstance(raw, float):
        value = Decimal(str(raw))
    else:
        text = clean(raw)
        if text is None:
            return None
        text = text.replace(",", "").replace("¥", "").replace("￥", "").replace("$", "")
        try:
            value = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError(raw) from exc
    if not value.is_finite() or value < 0 or value > MAX_AMOUNT:
        raise ValueError(raw)
    return value.quantize(Decimal("0.01"))


def clean_contact(lead: LeadInput, errors: list[FieldError]) -> dict[str, str | None]:
    """The lead's phone, e-mail and WeChat, normalised; each bad one becomes an error naming it."""
    contact: dict[str, str | None] = {}
    checks = (("phone", normalize_phone), ("email", normalize_email), ("wechat", normalize_wechat))
    for name, normalize in checks:
        raw = clean_text(name, getattr(lead, name), errors)
        contact[name] = None
        if raw is not None:
            try:
                contact[name] = normalize(raw)
            except ValueError:
                errors.append(FieldError(name, f"error.{name}_invalid", {"value": raw}))
    return contact


def validate_lead(lead: LeadInput, *, pipeline: Pipeline, require_contact: bool = True) -> CleanLead:
    """Check and normalise a lead; raise ValidationError listing every bad field."""
    errors: list[FieldError] = []
    text = {
        name: clean_text(name, getattr(lead, name), errors)
        for name in (
            "name", "company", "contact_name", "channel", "region", "industry", "tags", "lost_reason",
            "external_id", "team", "campaign",
        )
    }  # fmt: skip
    note = clean_note(lead.note, errors)
    if not text["name"] and not any(e.field == "name" for e in errors):
        errors.append(FieldError("name", "error.required"))
    contact = clean_contact(lead, errors)
    if require_contact and not any(contact.values()) and not any(e.field in CONTACT_FIELDS for e in errors):
        errors.append(FieldError("phone", "error.contact_required"))
    amount = None
    try:
        amount = parse_amount(lead.amount)
    except ValueError:
        errors.append(FieldError("amount", "error.amount_invalid", {"value": str(lead.amount)}))
    grade = clean_grade(lead.grade, errors)
    stage, status = _stage_and_status(lead, pipeline, errors)
    if errors:
        raise ValidationError(errors)
    created = lead.created_at or utcnow()
    history = new_lead_history(pipeline, stage=stage, status=status, created=created, dates=lead.stage_dates)
    return CleanLead(
        name=text["name"] or "",
        company=text["company"],
        contact_name=text["contact_name"],
        phone=contact["phone"],
        email=contact["email"],
        wechat=contact["wechat"],
        channel=text["channel"],
        region=text["region"],
        industry=text["industry"],
        owner_id=lead.owner_id,
        team=text["team"],
        tags=text["tags"],
        grade=grade,
        lost_reason=text["lost_reason"],
        external_id=text["external_id"],
        amount=amount,
        created_at=created,
        stage=stage_after(pipeline, history, status),
        status=status,
        history=tuple(history),
        campaign=text["campaign"],
        note=note,
    )


# A first note longer than this is more likely a pasted document than a note.
NOTE_MAX = 5000


def clean_note(raw: object, errors: list[FieldError]) -> str | None:
    """The trimmed first note, or None; an over-long or NUL-bearing note adds an error on `note`."""
    value = clean(raw)
    if value is None:
        return None
    if "\x00" in value:
        errors.append(FieldError("note", "error.invalid_characters"))
        return None
    if len(value) > NOTE_MAX:
        errors.append(FieldError("note", "error.too_long", {"max": str(NOTE_MAX), "length": str(len(value))}))
        return None
    return value


def _stage_and_status(lead: LeadInput, pipeline: Pipeline, errors: list[FieldError]) -> tuple[str, str]:
    """The named stage (a key, or a name in any language) and the status; an outcome as stage sets it."""
    status = (clean(lead.status) or OPEN).lower()
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
    resolved_status = pipeline.resolve(status) if status != OPEN else OPEN
    if resolved_status not in STATUSES:
        errors.append(FieldError("status", "error.status_unknown", {"value": status}))
        return stage, OPEN
    assert resolved_status is not None
    return stage, resolved_status


def create_lead(
    session: Session,
    lead: LeadInput,
    *,
    actor: Actor,
    pipeline: Pipeline | None = None,
    allow_duplicate: bool = False,
    customer_no: str | None = None,
    require_contact: bool = True,
    duplicate_reason: str | None = None,
) -> Customer:
    """Validate and store a lead, its primary contact, stage history, deal and first note (one transaction).

    A lead with the phone, e-mail or WeChat of an existing customer, or its company and name, raises
    DuplicateLead, unless `duplicate_reason` says why it is stored anyway: then the create audit row keeps
    the reason and the customer it matched. The importer passes `customer_no` (checked unique in bulk),
    `allow_duplicate` (checked in bulk) and `require_contact=False` for rows that carry an external id,
    which identifies them instead.
    """
    require(actor, "customer.create")
    pipeline = pipeline or get_pipeline()
    reason = None
    if duplicate_reason is not None:
        reason = clean(duplicate_reason)
        if reason is None:
            raise ValidationError([FieldError("duplicate_reason", "error.required")])
        if len(reason) > DUPLICATE_REASON_MAX:
            params = {"max": str(DUPLICATE_REASON_MAX), "length": str(len(reason))}
            raise ValidationError([FieldError("duplicate_reason", "error.too_long", params)])
    cleaned = validate_lead(lead, pipeline=pipeline, require_contact=require_contact)
    # A rep's new lead is their own, a prospect's has no owner yet: handing leads out is a manager's call.
    owner_id = cleaned.owner_id if allowed(actor, "customer.assign") else actor.user_id
    extra: dict[str, list[object]] | None = None
    if not allow_duplicate:
        # Under the lock, so that of several saves of one person at once exactly one stores it.
        lock_intake(session)
        match = duplicate_match(session, cleaned.contact, company=cleaned.company, name=cleaned.name)
        if match is not None and reason is None:
            raise DuplicateLead(duplicate_summary(session, match, actor=actor))
        if match is not None:
            extra = {
                "duplicate_of": [None, match.customer.customer_no],
                "duplicate_field": [None, match.field],
                "duplicate_reason": [None, reason],
            }
    number = customer_no or unused_customer_no(session, cleaned.created_at)
    (customer_id,) = store_leads(
        session, [NewLead(cleaned, owner_id, number, extra)], actor=actor, pipeline=pipeline
    )
    customer = session.get(Customer, customer_id)
    assert customer is not None  # just inserted in this transaction
    return customer


def store_lead(
    session: Session,
    cleaned: CleanLead,
    *,
    actor: Actor,
    owner_id: int | None,
    customer_no: str | None,
    pipeline: Pipeline,
) -> Customer:
    """Write one validated lead through the same write as an import's batch (`store_leads`)."""
    number = customer_no or unused_customer_no(session, cleaned.created_at)
    (customer_id,) = store_leads(
        session, [NewLead(cleaned, owner_id, number)], actor=actor, pipeline=pipeline
    )
    customer = session.get(Customer, customer_id)
    assert customer is not None  # just inserted in this transaction
    return customer


# The longest reason for saving a lead that matched an existing customer.
DUPLICATE_REASON_MAX = 500


def duplicate_summary(session: Session, match: DuplicateMatch, *, actor: Actor) -> DuplicateSummary:
    """What `actor` may be shown of the customer a new lead matched: all of it, or only the field."""
    customer = match.customer
    if not can_see(session, actor, customer):
        return DuplicateSummary(field=match.field, visible=False, editable=False)
    owner = session.get(User, customer.owner_id) if customer.owner_id is not None else None
    return DuplicateSummary(
        field=match.field,
        visible=True,
        editable=allowed(actor, "customer.edit"),
        customer_id=customer.id,
        customer_no=customer.customer_no,
        name=customer.name,
        company=customer.company,
        stage=customer.stage,
        status=customer.status,
        owner_name=(owner.display_name or owner.username) if owner else None,
    )


def find_duplicate(session: Session, lead: LeadInput, *, actor: Actor) -> DuplicateSummary | None:
    """The customer a lead would duplicate, as `actor` may see it, or None; the lead is validated first.

    For a check before saving; `create_lead` checks again under the intake lock when it stores.
    """
    require(actor, "customer.create")
    require(actor, "customer.read")  # a prospect's public form is told only when it saves
    cleaned = validate_lead(lead, pipeline=get_pipeline())
    match = duplicate_match(session, cleaned.contact, company=cleaned.company, name=cleaned.name)
    return None if match is None else duplicate_summary(session, match, actor=actor)


def add_as_contact(session: Session, lead: LeadInput, *, customer_id: int, actor: Actor) -> Customer:
    """Add the person a new lead names as a contact of an existing customer (audited); no new lead.

    The contact takes the lead's contact name (or its name) and its phone, e-mail and WeChat; the
    lead's first note goes to that customer. Refused unless `actor` may edit that customer.
    """
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("customer", customer_id)
    require_customer(session, actor, customer, "customer.edit")
    errors: list[FieldError] = []
    person = clean_text("contact_name", lead.contact_name, errors) or clean_text("name", lead.name, errors)
    if person is None and not errors:
        errors.append(FieldError("name", "error.required"))
    contact = clean_contact(lead, errors)
    note = clean_note(lead.note, errors)
    if errors:
        raise ValidationError(errors)
    assert person is not None
    take_write_lock(session)
    row = Contact(customer_id=customer.id, name=person, is_primary=False, **contact)
    session.add(row)
    if note is not None:
        session.add(Activity(customer_id=customer.id, kind=NOTE, by_user_id=actor.user_id, summary=note))
    added = ", ".join(value for value in (person, *contact.values()) if value)
    audit.record_customer(
        session, actor=actor, customer=customer, action=AuditAction.UPDATE,
        changes={"contact_added": [None, added]},
    )  # fmt: skip
    session.flush()
    return customer


@dataclass(frozen=True)
class NewLead:
    """One validated lead for the bulk write: who owns it and its (checked unused) customer number."""

    cleaned: CleanLead
    owner_id: int | None
    customer_no: str
    # Added to the lead's create audit row, e.g. why it was saved although it matched a customer.
    extra_changes: dict[str, list[object]] | None = None


def _last_active(history: tuple[tuple[str, datetime], ...], note_at: datetime | None) -> datetime | None:
    """The new customer's last_active_at (funnel.store.last_active): its latest stage event or note."""
    moments = [at for _, at in history] + ([note_at] if note_at is not None else [])
    return max(moments, default=None)


def store_leads(session: Session, leads: list[NewLead], *, actor: Actor, pipeline: Pipeline) -> list[int]:
    """The one write of new leads: customer, primary contact, stage history with its funnel state, deal,
    audit row and LeadCreated event, one INSERT per table however many leads (an import's batch).

    Returns the new customers' ids in the order of `leads`. A lead's team is the one given (an import's
    column), else its owner's, else the team of whoever entered it; a prospect's lead has none until
    it is routed.
    """
    require(actor, "customer.create")
    if not leads:
        return []
    teams: dict[int | None, str | None] = {
        uid: team for uid, team in session.execute(select(User.id, User.team))
    }
    # Each lead goes in finished: its tags linked (and the display copy written as the links read), how it
    # came in, and its rule score, so the write needs no second pass.
    tag_names, rules, intake = TagNames(session), load_rules(session), intake_of(actor.role)
    tag_links: list[list[ListValue]] = []
    customers: list[dict[str, object]] = []
    for lead in leads:
        c = lead.cleaned
        state = funnel_state(pipeline, c.history, status=c.status, stage=c.stage)
        tags = tag_names.resolve(c.tags)
        tag_links.append(tags)
        customers.append(
            dict(
                customer_no=lead.customer_no, external_id=c.external_id, name=c.name, company=c.company,
                industry=c.industry, region=c.region, channel=c.channel, campaign=c.campaign,
                tags=display_text(t.code for t in tags), intake=intake,
                owner_id=lead.owner_id,
                team=c.team or teams.get(lead.owner_id) or actor.team,
                grade=c.grade, stage=c.stage, status=c.status, lost_reason=c.lost_reason,
                budget_range=None, purchase_timeline=None, use_case=None, competitors=None,
                created_at=c.created_at, first_contacted_at=first_contact(pipeline, c.history),
                closed_at=state.closed_at, furthest_stage=state.furthest_stage, won_at=state.won_at,
                lost_at=state.lost_at, updated_at=c.created_at, version=1,
                last_active_at=_last_active(c.history, c.created_at if c.note is not None else None),
                opportunity_amount=c.amount, signed_amount=None,  # funnel.store.deal_amounts: its deal below
            )
        )  # fmt: skip
        facts = new_lead_facts(
            customers[-1], phone=bool(c.phone), email=bool(c.email), wechat=bool(c.wechat),
            tags=(t.code for t in tags),
        )  # fmt: skip
        customers[-1]["score"], customers[-1]["score_reasons"] = score_facts(rules, facts)
    # A bulk insert (COPY on PostgreSQL, the driver's executemany on SQLite), then the ids looked up by the
    # unique customer numbers: on SQLite an insert with RETURNING in parameter order goes row by row
    # (SQLite does not promise RETURNING's order), which was a third of a 100,000-row import.
    loader = BulkLoader(session.connection())
    loader.insert(cast(Table, Customer.__table__), customers)
    numbers = [lead.customer_no for lead in leads]
    query = select(Customer.customer_no, Customer.id)
    id_of: dict[str, int] = dict(rows_where_in(session, query, Customer.customer_no, numbers))
    ids = [id_of[number] for number in numbers]
    contacts: list[dict[str, object]] = []
    stage_events: list[dict[str, object]] = []
    deals: list[dict[str, object]] = []
    notes: list[dict[str, object]] = []
    audit_rows: list[dict[str, object]] = []
    links: list[dict[str, object]] = []
    now = utcnow()
    for customer_id, lead, row, tags in zip(ids, leads, customers, tag_links, strict=True):
        c = lead.cleaned
        links += [dict(customer_id=customer_id, tag_id=tag.id, created_at=now) for tag in tags]
        contacts.append(
            dict(customer_id=customer_id, name=c.contact_name or c.name, title=None, phone=c.phone,
                 email=c.email, wechat=c.wechat, is_primary=True, is_decision_maker=False,
                 created_at=c.created_at)
        )  # fmt: skip
        previous: str | None = None
        for key, at in c.history:
            stage_events.append(
                dict(
                    customer_id=customer_id,
                    from_stage=previous,
                    to_stage=key,
                    at=at,
                    by_user_id=actor.user_id,
                )
            )
            previous = key
        if c.amount is not None:
            deals.append(dict(customer_id=customer_id, name=None, amount=c.amount, expected_close=None,
                              quoted_at=None, created_at=c.created_at))  # fmt: skip
        if c.note is not None:
            notes.append(dict(customer_id=customer_id, kind=NOTE, at=c.created_at, by_user_id=actor.user_id,
                              summary=c.note))  # fmt: skip
        audited: dict[str, object] = {name: row[name] for name in AUDITED_FIELDS}
        changes = audit.diff({}, audited) | dict(lead.extra_changes or {})
        audit_rows.append(
            audit.row(action=AuditAction.CREATE, entity=AuditEntity.CUSTOMER, entity_id=customer_id,
                      customer_id=customer_id, user_id=actor.user_id, changes=changes)
        )  # fmt: skip
        events.record(
            session,
            events.LeadCreated(customer_id, lead.customer_no, c.channel, lead.owner_id, actor.role),
        )
    # The other tables' rows in bulk too: no ORM object and no SQLAlchemy parameter handling per row.
    for model, rows in (
        (Contact, contacts),
        (StageEvent, stage_events),
        (Opportunity, deals),
        (Activity, notes),
        (AuditLog, audit_rows),
        (CustomerTag, links),
    ):
        loader.insert(cast(Table, model.__table__), rows)
    return ids

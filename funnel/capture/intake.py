"""Public intake: a channel's sources (a form link and an API token each) and leads left by prospects.

A source belongs to a channel (a code of the managed list `channel`) and optionally a campaign. Its
form lives at `/f/<slug>`; its API token is shown once and only its sha256 is stored. A lead arriving
through a source is created by the PUBLIC principal through the one write path
(`funnel.capture.leads.create_lead`: validation, duplicates, numbering, audit), and what the prospect
wrote (`message`) is kept as the lead's first note.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import segno
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import PUBLIC, Actor, require
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.capture.leads import LeadInput, create_lead, validate_lead
from funnel.core.clock import utcnow
from funnel.core.errors import FORM, FieldError, NotFound, UserError, ValidationError
from funnel.core.settings import get_settings
from funnel.core.validation import clean
from funnel.customers.duplicates import duplicate_match, lock_intake
from funnel.customers.lists import find_value, save_value
from funnel.customers.tags import resolve_tags
from funnel.pipeline.stages import get_pipeline
from funnel.store.models import Activity, Customer, IntakeLead, IntakeSource

CHANNEL_LIST = "channel"
MANAGE = "channel.manage"
# The longest message a prospect may leave (a note is Text; this only stops abuse, not prose).
MESSAGE_MAX = 4000
# The columns' lengths (a campaign is stored on the customer too, in a column as long).
CAMPAIGN_MAX = IntakeSource.campaign.type.length
CHANNEL_MAX = IntakeSource.channel.type.length
# The error codes that mean "this lead is already here": the API answers them with 409.
DUPLICATE_CODES = frozenset({"error.duplicate", "error.duplicate_hidden", "intake.external_id_taken"})


class TokenRefused(UserError):
    """The API token is unknown or revoked (HTTP 401)."""

    def __init__(self) -> None:
        super().__init__([FieldError(FORM, "intake.token_refused")])


class SourceOff(UserError):
    """The source was switched off: its form and its API take no leads (HTTP 403 / a 404 page)."""

    def __init__(self) -> None:
        super().__init__([FieldError(FORM, "intake.source_off")])


@dataclass(frozen=True)
class SourceInfo:
    """One intake source as the Channels page and `channel list` show it."""

    id: int
    channel: str
    campaign: str | None
    slug: str
    active: bool
    has_token: bool  # an API token is issued and not revoked
    revoked_at: datetime | None
    created_at: datetime
    leads: int
    tags: tuple[str, ...] = ()  # the tag codes its leads get

    @property
    def form_url(self) -> str:
        return form_url(self.slug)

    @property
    def name(self) -> str:
        """How the command line names it: the channel, and `/campaign` when it has one."""
        return f"{self.channel}/{self.campaign}" if self.campaign else self.channel


@dataclass(frozen=True)
class IssuedToken:
    """A source and its new API token: the only time the token exists outside the sender."""

    source: SourceInfo
    token: str


@dataclass(frozen=True)
class PublicLead:
    """What a prospect (the form) or a sender (the API) says about a new lead, as typed."""

    name: str | None = None
    company: str | None = None
    contact_name: str | None = None
    phone: str | None = None
    email: str | None = None
    wechat: str | None = None
    region: str | None = None
    industry: str | None = None
    campaign: str | None = None
    external_id: str | None = None
    message: str | None = None
    tags: str | None = None  # tags from the library, comma-separated (the API also takes a JSON list)


# The fields a sender may post to POST /api/leads: the import's names, and the prospect's message.
PUBLIC_FIELDS = tuple(PublicLead.__dataclass_fields__)


@dataclass(frozen=True)
class IntakeResult:
    """A lead taken in: its number for the API (never shown to a prospect), and whether it is new."""

    customer_no: str
    created: bool


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def form_url(slug: str) -> str:
    """The absolute address of a source's form (CRM_PUBLIC_BASE_URL + /f/<slug>)."""
    return f"{get_settings().public_base_url}/f/{slug}"


def qr_png(url: str, *, scale: int = 8) -> bytes:
    """A QR code of `url` as PNG bytes (for a poster or a trade-show badge)."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()


def _info(session: Session, source: IntakeSource, leads: int | None = None) -> SourceInfo:
    if leads is None:
        leads = session.scalar(select(func.count()).where(IntakeLead.source_id == source.id)) or 0
    return SourceInfo(
        id=source.id,
        channel=source.channel,
        campaign=source.campaign,
        slug=source.slug,
        active=source.active,
        has_token=source.token_hash is not None and source.revoked_at is None,
        revoked_at=source.revoked_at,
        created_at=source.created_at,
        leads=int(leads),
        tags=split_tags(source.tags),
    )


def list_sources(session: Session, *, actor: Actor) -> list[SourceInfo]:
    """Every intake source, oldest first, with how many leads came through each."""
    require(actor, MANAGE)
    counts = dict(
        session.execute(select(IntakeLead.source_id, func.count()).group_by(IntakeLead.source_id)).all()
    )
    sources = session.scalars(select(IntakeSource).order_by(IntakeSource.id))
    return [_info(session, source, counts.get(source.id, 0)) for source in sources]


def _audit(
    session: Session, actor: Actor, action: AuditAction, source: IntakeSource, **changes: object
) -> None:
    audit.record(
        session,
        action=action,
        entity=AuditEntity.INTAKE_SOURCE,
        entity_id=source.id,
        user_id=actor.user_id,
        changes={name: [None, value] for name, value in changes.items()} or None,
    )


def _issue_token(source: IntakeSource) -> str:
    token = secrets.token_urlsafe(32)
    source.token_hash, source.revoked_at = hash_token(token), None
    return token


def add_source(
    session: Session,
    *,
    channel: str,
    campaign: str | None = None,
    tags: Iterable[str] = (),
    actor: Actor,
) -> IssuedToken:
    """A new source for `channel` (a new name joins the channel list) and its API token, shown once.

    `tags` (codes or names; a new one joins the tag library, unmanaged) go on every lead it brings."""
    require(actor, MANAGE)
    name, campaign = " ".join((channel or "").split()), clean(campaign)
    errors = []
    if not name:
        errors.append(FieldError("channel", "error.required"))
    elif len(name) > CHANNEL_MAX:
        errors.append(
            FieldError("channel", "error.too_long", {"max": str(CHANNEL_MAX), "length": str(len(name))})
        )
    if campaign is not None and len(campaign) > CAMPAIGN_MAX:
        errors.append(
            FieldError("campaign", "error.too_long", {"max": str(CAMPAIGN_MAX), "length": str(len(campaign))})
        )
    if errors:
        raise ValidationError(errors)
    known = find_value(session, CHANNEL_LIST, name)
    code = known.code if known is not None else save_value(session, CHANNEL_LIST, code=name).code
    if _find(session, code, campaign) is not None:
        raise ValidationError(
            [FieldError("channel", "intake.source_exists", {"name": _name(code, campaign)})]
        )
    codes = [item.code for item in resolve_tags(session, tags, allow_free=True)]
    source = IntakeSource(
        channel=code,
        campaign=campaign,
        tags=", ".join(codes) or None,
        slug=_unused_slug(session),
        active=True,
        created_by=actor.user_id,
    )
    token = _issue_token(source)
    session.add(source)
    session.flush()
    _audit(session, actor, AuditAction.CHANNEL_ADD, source, channel=code, campaign=campaign, slug=source.slug)
    return IssuedToken(_info(session, source), token)


def split_tags(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def set_source_tags(session: Session, source_id: int, tags: Iterable[str], *, actor: Actor) -> SourceInfo:
    """The tags every new lead from this source gets (codes or names; new ones join the library)."""
    require(actor, MANAGE)
    source = _source(session, source_id)
    codes = [item.code for item in resolve_tags(session, tags, allow_free=True)]
    before = split_tags(source.tags)
    source.tags = ", ".join(codes) or None
    if tuple(codes) != before:
        _audit(session, actor, AuditAction.CHANNEL_SWITCH, source, tags=source.tags)
    session.flush()
    return _info(session, source)


def _name(channel: str, campaign: str | None) -> str:
    return f"{channel}/{campaign}" if campaign else channel


def _unused_slug(session: Session) -> str:
    while True:
        slug = secrets.token_hex(5)
        if session.scalar(select(IntakeSource.id).where(IntakeSource.slug == slug)) is None:
            return slug


def _find(session: Session, channel_code: str, campaign: str | None) -> IntakeSource | None:
    return session.scalar(
        select(IntakeSource).where(
            IntakeSource.channel == channel_code,
            IntakeSource.campaign.is_(None) if campaign is None else IntakeSource.campaign == campaign,
        )
    )


def find_source(session: Session, channel: str, campaign: str | None = None) -> IntakeSource:
    """The source of a channel (by its code or either name) and campaign; NotFound naming it."""
    known = find_value(session, CHANNEL_LIST, channel)
    code = known.code if known is not None else " ".join(channel.split())
    source = _find(session, code, clean(campaign))
    if source is None:
        raise NotFound("intake_source", _name(code, clean(campaign)))
    return source


def _source(session: Session, source_id: int) -> IntakeSource:
    source = session.get(IntakeSource, source_id)
    if source is None:
        raise NotFound("intake_source", source_id)
    return source


def rotate_token(session: Session, source_id: int, *, actor: Actor) -> IssuedToken:
    """A new API token for the source (the old one stops working at once), shown once."""
    require(actor, MANAGE)
    source = _source(session, source_id)
    token = _issue_token(source)
    _audit(session, actor, AuditAction.CHANNEL_TOKEN, source, token="new")
    return IssuedToken(_info(session, source), token)


def revoke_token(session: Session, source_id: int, *, actor: Actor) -> SourceInfo:
    """Revoke the source's API token: the API refuses it from now on (the form is not affected)."""
    require(actor, MANAGE)
    source = _source(session, source_id)
    if source.revoked_at is None:
        source.revoked_at = utcnow()
        _audit(session, actor, AuditAction.CHANNEL_REVOKE, source, token="revoked")
    return _info(session, source)


def set_active(session: Session, source_id: int, active: bool, *, actor: Actor) -> SourceInfo:
    """Switch a source on or off: off, its form shows 'not available' and its API answers 403."""
    require(actor, MANAGE)
    source = _source(session, source_id)
    if source.active != active:
        source.active = active
        _audit(session, actor, AuditAction.CHANNEL_SWITCH, source, active=active)
    return _info(session, source)


def source_for_form(session: Session, slug: str) -> IntakeSource:
    """The source whose form is at /f/<slug>; NotFound for an unknown slug, SourceOff when it is off."""
    source = session.scalar(select(IntakeSource).where(IntakeSource.slug == slug)) if slug else None
    if source is None:
        raise NotFound("intake_source", slug)
    if not source.active:
        raise SourceOff()
    return source


def check_token(session: Session, token: str | None) -> IntakeSource:
    """The source an API token (`Authorization: Bearer TOKEN`) belongs to.

    TokenRefused for a missing, unknown or revoked token, SourceOff for a source switched off. Every
    public API route (leads now, activities later) authenticates through this.
    """
    if not token:
        raise TokenRefused()
    source = session.scalar(select(IntakeSource).where(IntakeSource.token_hash == hash_token(token)))
    if source is None or source.revoked_at is not None:
        raise TokenRefused()
    if not source.active:
        raise SourceOff()
    return source


def _lead_input(source: IntakeSource, lead: PublicLead, tags: Iterable[str] = ()) -> LeadInput:
    return LeadInput(
        name=lead.name, company=lead.company, contact_name=lead.contact_name, phone=lead.phone,
        email=lead.email, wechat=lead.wechat, region=lead.region, industry=lead.industry,
        channel=source.channel, campaign=clean(lead.campaign) or source.campaign,
        external_id=clean(lead.external_id), tags=", ".join(dict.fromkeys(tags)) or None,
    )  # fmt: skip


def _lead_tags(
    session: Session, source: IntakeSource, lead: PublicLead, errors: list[FieldError]
) -> list[str]:
    """The source's tags and those the sender named; a sender may only name tags of the library."""
    try:
        named = [item.code for item in resolve_tags(session, split_tags(lead.tags), allow_free=False)]
    except ValidationError as exc:
        errors.extend(exc.errors)
        named = []
    return [*split_tags(source.tags), *named]


def _own_errors(lead: PublicLead) -> list[FieldError]:
    errors = []
    message = clean(lead.message)
    if message is not None and len(message) > MESSAGE_MAX:
        errors.append(
            FieldError("message", "error.too_long", {"max": str(MESSAGE_MAX), "length": str(len(message))})
        )
    return errors  # the lead's own fields, the campaign among them, are checked by validate_lead


def _note(session: Session, customer_id: int, message: str | None, at: datetime) -> None:
    """What the prospect wrote, as a note on the lead by nobody (no user wrote it)."""
    if text := clean(message):
        session.add(Activity(customer_id=customer_id, kind="note", at=at, by_user_id=None, summary=text))


def is_duplicate(error: UserError) -> bool:
    """Whether the error says the lead exists already (the API answers it 409, not 422)."""
    return any(e.code in DUPLICATE_CODES for e in error.errors)


def create_public_lead(
    session: Session, source: IntakeSource, lead: PublicLead, *, note_on_duplicate: bool = False
) -> IntakeResult:
    """Take in a lead from a source's form or API as the PUBLIC principal (one transaction).

    A replay of an `external_id` this source already sent creates nothing and answers the same
    customer number (created False); an `external_id` another sender used is a duplicate. With
    `note_on_duplicate` (the form), a prospect who is already a lead gets their message added to that
    lead as a note instead of an error: the form must neither lose what they wrote nor tell a stranger
    whether a phone number is known.
    """
    errors = _own_errors(lead)
    lead_input = _lead_input(source, lead, _lead_tags(session, source, lead, errors))
    if errors:  # report them together with the lead's own problems, if any
        try:
            validate_lead(lead_input, pipeline=get_pipeline())
        except ValidationError as exc:
            errors = [*exc.errors, *errors]
        raise ValidationError(errors)
    # The same lock create_lead takes, before the replay check: two deliveries of one external id at
    # once store it once.
    lock_intake(session)
    if lead_input.external_id:
        replayed = _replay(session, source, lead_input.external_id)
        if replayed is not None:
            return replayed
    try:
        customer = create_lead(session, lead_input, actor=PUBLIC)
    except ValidationError as exc:
        if note_on_duplicate and is_duplicate(exc):
            return _note_on_known(session, lead_input, lead, exc)
        raise
    session.add(IntakeLead(customer_id=customer.id, source_id=source.id, external_id=lead_input.external_id))
    _note(session, customer.id, lead.message, customer.created_at)
    session.flush()
    return IntakeResult(customer.customer_no, created=True)


def _replay(session: Session, source: IntakeSource, external_id: str) -> IntakeResult | None:
    row = session.execute(
        select(Customer.customer_no, IntakeLead.source_id)
        .outerjoin(IntakeLead, IntakeLead.customer_id == Customer.id)
        .where(Customer.external_id == external_id)
    ).first()
    if row is None:
        return None
    if row.source_id != source.id:
        # Another sender's (or an import's) id: say so without naming that customer.
        raise ValidationError([FieldError("external_id", "intake.external_id_taken")])
    return IntakeResult(row.customer_no, created=False)


def _note_on_known(
    session: Session, lead_input: LeadInput, lead: PublicLead, exc: ValidationError
) -> IntakeResult:
    cleaned = validate_lead(lead_input, pipeline=get_pipeline())
    match = duplicate_match(session, cleaned.contact)
    if match is None:  # the duplicate was its external id, which a form never sends
        raise exc
    _note(session, match.customer.id, lead.message, utcnow())
    session.flush()
    return IntakeResult(match.customer.customer_no, created=False)

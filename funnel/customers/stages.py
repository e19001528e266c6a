"""Stage moves and the one write path for stage events, which keeps the customer's stored funnel state.

Every stage event is written by `add_history` (a new lead, an import) or `move_stage` (a user's move);
both update `furthest_stage`, `won_at`, `lost_at`, `closed_at` and `first_contacted_at` in the same
transaction, so `python -m funnel check` finds the stored state equal to a recount of `stage_event`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, require_customer
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction
from funnel.core import events
from funnel.core.clock import utcnow
from funnel.core.db import get_by_id, take_write_lock
from funnel.core.errors import FieldError, NotFound, ValidationError
from funnel.customers.fields import OPEN, audited_fields, clean_text
from funnel.customers.lists import find_value, list_values
from funnel.customers.read import flush_edit, get_customer, stale_edit
from funnel.pipeline.rules import FunnelState, after_move, check_move, first_contact, funnel_state
from funnel.pipeline.stages import LOST, OUTCOMES, WON, Pipeline, get_pipeline
from funnel.store.models import Customer, StageEvent

LOST_REASON_LIST, REOPEN_REASON_LIST = "lost_reason", "reopen_reason"
# A reason with this code needs a note saying what it was.
NOTE_REQUIRED = "other"


def _apply_state(customer: Customer, state: FunnelState) -> None:
    # Only what differs is set: setting an equal value still marks the row modified, and a re-import of
    # 100,000 unchanged rows then made the flush compare every attribute of every customer.
    for name in ("furthest_stage", "won_at", "lost_at", "closed_at"):
        if getattr(customer, name) != getattr(state, name):
            setattr(customer, name, getattr(state, name))


def customer_values(customer: Customer) -> dict[str, object]:
    """The customer's stored fields by column name (what the stage guidance's exit criteria read)."""
    return {column.key: getattr(customer, column.key) for column in Customer.__table__.columns}


def add_history(
    session: Session,
    customer: Customer,
    history: list[tuple[str, datetime]],
    *,
    actor: Actor,
    pipeline: Pipeline,
    known: Iterable[tuple[str, datetime]],
) -> None:
    """Add the events of `history` the customer lacks (`known` is what it has) and set its funnel state.

    The customer's `stage` and `status` are already set by the caller (a new lead, an import row).
    """
    have = {key for key, _ in known}
    full = sorted([*known, *((k, a) for k, a in history if k not in have)], key=lambda item: item[1])
    _apply_state(customer, funnel_state(pipeline, full, status=customer.status, stage=customer.stage))
    contacted = first_contact(pipeline, full)
    if contacted is not None and (
        customer.first_contacted_at is None or contacted < customer.first_contacted_at
    ):
        customer.first_contacted_at = contacted
    if customer.id is None:
        session.flush()  # a new customer is inserted once, with its state, before its events
    previous: str | None = None
    for key, at in history:
        if key not in have:
            session.add(
                StageEvent(
                    customer_id=customer.id,
                    from_stage=previous,
                    to_stage=key,
                    at=at,
                    by_user_id=actor.user_id,
                )
            )
        previous = key


def move_stage(
    session: Session,
    *,
    customer_id: int,
    to_stage: str,
    actor: Actor,
    at: datetime | None = None,
    expected_version: int | None = None,
    lost_reason: str | None = None,
    lost_note: str | None = None,
    reopen_reason: str | None = None,
    reopen_note: str | None = None,
    pipeline: Pipeline | None = None,
) -> Customer:
    """Move a customer to a stage or outcome, recording the event, its funnel state and the audit entry.

    Refused (ValidationError) when the customer is there already, once it is won (a won deal stays
    closed), or when losing it without a reason. Losing it takes a reason of the managed list
    `lost_reason` (its code or a name in either language; the code is stored) and, for "other", a
    note; reopening a lost one (moving it to a stage) takes a reason of the list `reopen_reason` the
    same way. Both are audited with the move.
    """
    take_write_lock(session)  # SQLite: read and write under one lock (see take_write_lock)
    pipeline = pipeline or get_pipeline()
    key = pipeline.resolve(to_stage)
    if key is None:
        raise ValidationError([FieldError("stage", "error.stage_unknown", {"value": to_stage})])
    customer = get_by_id(session, Customer, customer_id)
    if customer is None:
        raise NotFound("customer", customer_id)
    require_customer(session, actor, customer, "customer.edit")
    if expected_version is not None and customer.version != expected_version:
        raise stale_edit(session, customer)
    errors: list[FieldError] = []
    reason = clean_text("lost_reason", lost_reason, errors)
    if errors:
        raise ValidationError(errors)
    check_move(
        pipeline,
        stage=customer.stage,
        status=customer.status,
        to=key,
        lost_reason=reason,
        values=customer_values(customer),
    )
    reopening = customer.status == LOST and key not in OUTCOMES
    lost_code = reopen_code = note = None
    if key == LOST:
        lost_code, note = _reason(session, LOST_REASON_LIST, "lost_reason", reason, lost_note)
    elif reopening:
        reopen_code, note = _reason(session, REOPEN_REASON_LIST, "reopen_reason", reopen_reason, reopen_note)
    at = at or utcnow()
    before = audited_fields(customer)
    previous = customer.stage  # a lost customer's stage is where it was lost
    stored = FunnelState(customer.furthest_stage, customer.won_at, customer.lost_at)
    if key in OUTCOMES:
        customer.status = key
        if key == WON:
            customer.stage = WON
        else:
            customer.lost_reason, customer.lost_note = lost_code, note
    else:
        if reopening:  # no longer lost: why it was lost stays in the audit log
            customer.lost_reason = customer.lost_note = None
        customer.status = OPEN
        customer.stage = key
        if customer.first_contacted_at is None and pipeline.rank(key) > 0:
            customer.first_contacted_at = at
    _apply_state(customer, after_move(pipeline, stored, to=key, at=at))
    session.add(
        StageEvent(
            customer_id=customer.id, from_stage=previous, to_stage=key, at=at, by_user_id=actor.user_id
        )
    )
    changes = audit.diff(before, audited_fields(customer))
    if key == LOST and note:
        changes["lost_note"] = [None, note]
    elif reopening:
        changes["reopen_reason"] = [None, reopen_code]
        if note:
            changes["reopen_note"] = [None, note]
    audit.record_customer(
        session, actor=actor, customer=customer, action=AuditAction.STAGE_MOVE, changes=changes
    )
    flush_edit(session, customer)
    events.record(session, events.StageMoved(customer.id, previous, key, at))
    if key == WON:
        events.record(session, events.CustomerWon(customer.id, at))
    elif key == LOST:
        events.record(session, events.CustomerLost(customer.id, at, customer.lost_reason or ""))
    return customer


def _reason(
    session: Session, list_name: str, field: str, raw: str | None, raw_note: str | None
) -> tuple[str, str | None]:
    """A reason of the managed list `list_name` as its code, and its note; errors on `field` and
    `<field's list>_note` ("lost_note", "reopen_note") naming what is wrong."""
    note_field = field.replace("_reason", "_note")
    reason_errors: list[FieldError] = []
    note_errors: list[FieldError] = []
    text = clean_text("lost_reason", raw, reason_errors)  # the column's limit holds for both
    note = clean_text("lost_reason", raw_note, note_errors)
    errors = [FieldError(field, e.code, e.params) for e in reason_errors]
    errors += [FieldError(note_field, e.code, e.params) for e in note_errors]
    found = find_value(session, list_name, text) if text else None
    if text is None and not reason_errors:
        errors.append(FieldError(field, "error.required"))
    elif text is not None and (found is None or not found.active):
        choices = ", ".join(v.code for v in list_values(session, list_name))
        errors.append(FieldError(field, "stage.error.reason_unknown", {"value": text, "choices": choices}))
    if found is not None and found.code == NOTE_REQUIRED and note is None:
        errors.append(FieldError(note_field, "stage.error.note_required"))
    if errors:
        raise ValidationError(errors)
    assert found is not None
    return found.code, note


def lost_reason_text(session: Session, *, actor: Actor, customer_id: int, lang: str) -> str | None:
    """Why a lost customer was lost, in `lang`: the reason's name and its note ("Other: moved abroad");
    a reason typed before the list existed shows as typed. None for a customer that is not lost."""
    customer = get_customer(session, actor=actor, customer_id=customer_id)
    if customer.status != LOST or not (customer.lost_reason or customer.lost_note):
        return None
    found = find_value(session, LOST_REASON_LIST, customer.lost_reason) if customer.lost_reason else None
    name = found.label(lang) if found is not None and found.code == customer.lost_reason else None
    parts = [part for part in (name or customer.lost_reason, customer.lost_note) if part]
    return ": ".join(parts)

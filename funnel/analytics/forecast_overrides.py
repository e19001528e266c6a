"""A rep's own call on a deal's forecast category, beside the one its stage's P(win) gives.

A rep who knows the customer signs next week puts the deal in `commit` although its stage says
`best_case`; one whose customer went quiet takes it out (`omitted`). Each call is a row of a history
(funnel.store.models.ForecastOverride), so the forecast as of a past day uses the calls made by then, and
clearing a call (category None) is itself a row. Whoever may edit the customer may make the call; it is
audited on the customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction
from funnel.closing.common import clean_str, customer_for
from funnel.core.clock import utcnow
from funnel.core.errors import FieldError, ValidationError
from funnel.store.models import ForecastOverride, User

# The categories a call may name: the three of the forecast, and `omitted` (out of this forecast).
CALL_CATEGORIES = ("commit", "best_case", "pipeline", "omitted")
_CHUNK = 500


@dataclass(frozen=True)
class ForecastCall:
    customer_id: int
    category: str
    note: str | None
    by: str | None  # the display name (or username) of who made the call
    at: datetime


def set_forecast_call(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    category: str | None,
    note: object = None,
    now: datetime | None = None,
) -> ForecastOverride:
    """Record `actor`'s forecast category for the customer's deal (None: back to the stage's category)."""
    customer = customer_for(session, actor, customer_id, "customer.edit")
    errors: list[FieldError] = []
    wanted = (category or "").strip() or None
    if wanted is not None and wanted not in CALL_CATEGORIES:
        errors.append(FieldError("category", "forecast.call.category_invalid", {"value": wanted}))
    text = clean_str("note", note, errors, max_length=500)
    if wanted == "omitted" and not text:
        errors.append(FieldError("note", "forecast.call.note_required", {}))
    if errors:
        raise ValidationError(errors)
    before = current_calls(session, [customer.id]).get(customer.id)
    row = ForecastOverride(
        customer_id=customer.id, category=wanted, note=text, set_by=actor.user_id, set_at=now or utcnow()
    )
    session.add(row)
    audit.record_customer(
        session,
        actor=actor,
        customer=customer,
        action=AuditAction.FORECAST_CALL,
        changes={"forecast_category": [before.category if before else None, wanted]},
    )
    session.flush()
    return row


def current_calls(
    session: Session, customer_ids: Sequence[int] | None, *, cutoff: datetime | None = None
) -> dict[int, ForecastCall]:
    """Each customer's latest call made before `cutoff` (default: now), where it names a category; for
    `customer_ids`, or every customer's with None."""
    calls: dict[int, ForecastCall] = {}
    ids = None if customer_ids is None else list(dict.fromkeys(int(i) for i in customer_ids))
    chunks = [None] if ids is None else [ids[start : start + _CHUNK] for start in range(0, len(ids), _CHUNK)]
    for chunk in chunks:
        ranked = select(
            ForecastOverride.customer_id,
            ForecastOverride.category,
            ForecastOverride.note,
            ForecastOverride.set_at,
            func.coalesce(User.display_name, User.username).label("by"),
            func.row_number()
            .over(
                partition_by=ForecastOverride.customer_id,
                order_by=(ForecastOverride.set_at.desc(), ForecastOverride.id.desc()),
            )
            .label("rank"),
        ).outerjoin(User, User.id == ForecastOverride.set_by)
        if chunk is not None:
            ranked = ranked.where(ForecastOverride.customer_id.in_(chunk))
        if cutoff is not None:
            ranked = ranked.where(ForecastOverride.set_at < cutoff)
        latest = ranked.subquery()
        for row in session.execute(select(latest).where(latest.c.rank == 1)):
            if row.category is not None:
                call = ForecastCall(row.customer_id, row.category, row.note, row.by, row.set_at)
                calls[row.customer_id] = call
    return calls

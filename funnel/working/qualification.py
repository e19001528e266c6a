"""Qualification: budget band and amount, purchase month, use case, competitors, decision process.

Structured so that the grading page can filter and report on them: the band and the competitors are
codes of the managed lists `budget_band` and `competitor` (a competitor not on the list is kept as
typed), the purchase timeline is a month stored as 'YYYY-MM'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, require_customer
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.core import events
from funnel.core.db import take_write_lock
from funnel.core.errors import FieldError, ValidationError
from funnel.customers.lists import find_value
from funnel.customers.read import flush_edit, get_customer, stale_edit
from funnel.store.models import Customer

BUDGET_BAND, COMPETITOR = "budget_band", "competitor"
QUALIFICATION_FIELDS = (
    "budget_range", "budget_amount", "purchase_timeline", "use_case", "competitors", "decision_process"
)  # fmt: skip
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
MAX_AMOUNT = Decimal("999999999999.99")
_SPLIT = re.compile(r"[,，、;；\n]+")


@dataclass(frozen=True)
class Qualification:
    """A customer's qualification as the form shows it, with the version it was read at."""

    customer_id: int
    customer_no: str
    version: int
    budget_range: str | None
    budget_amount: Decimal | None
    purchase_timeline: str | None
    use_case: str | None
    competitors: tuple[str, ...]
    decision_process: str | None


def split_competitors(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in _SPLIT.split(text or "") if part.strip())


def read_qualification(session: Session, *, actor: Actor, customer_id: int) -> Qualification:
    c = get_customer(session, actor=actor, customer_id=customer_id)
    return Qualification(
        c.id, c.customer_no, c.version, c.budget_range, c.budget_amount, c.purchase_timeline, c.use_case,
        split_competitors(c.competitors), c.decision_process,
    )  # fmt: skip


def _same_qualification(customer: Customer, loaded: Qualification) -> bool:
    return (
        customer.budget_range, customer.budget_amount, customer.purchase_timeline, customer.use_case,
        split_competitors(customer.competitors), customer.decision_process,
    ) == (
        loaded.budget_range, loaded.budget_amount, loaded.purchase_timeline, loaded.use_case,
        loaded.competitors, loaded.decision_process,
    )  # fmt: skip


def clean_month(raw: object, errors: list[FieldError]) -> str | None:
    """'2027-3' or '2027-03' as '2027-03'; anything else is an error on purchase_timeline."""
    text = str(raw or "").strip()
    if not text:
        return None
    match = _MONTH.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12 or not 2000 <= int(match.group(1)) <= 2100:
        errors.append(FieldError("purchase_timeline", "qual.error.month", {"value": text}))
        return None
    return f"{int(match.group(1)):04d}-{int(match.group(2)):02d}"


def clean_amount(raw: object, errors: list[FieldError]) -> Decimal | None:
    text = str(raw if raw is not None else "").strip().replace(",", "").replace("，", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors.append(FieldError("budget_amount", "qual.error.amount", {"value": text}))
        return None
    if not value.is_finite() or value < 0 or value > MAX_AMOUNT:
        errors.append(FieldError("budget_amount", "qual.error.amount", {"value": text}))
        return None
    return value.quantize(Decimal("0.01"))


def _long_text(name: str, raw: object, limit: int, errors: list[FieldError]) -> str | None:
    text = str(raw or "").strip()
    if not text:
        return None
    if "\x00" in text:
        errors.append(FieldError(name, "error.invalid_characters"))
        return None
    if len(text) > limit:
        errors.append(FieldError(name, "error.too_long", {"max": str(limit), "length": str(len(text))}))
        return None
    return text


def save_qualification(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    expected_version: int,
    budget_band: str | None,
    budget_amount: object,
    purchase_month: object,
    use_case: str | None,
    competitors: list[str] | tuple[str, ...] | str | None,
    decision_process: str | None,
    loaded: Qualification | None = None,
) -> Customer:
    """Save the qualification (audited). A save since `expected_version` is a StaleEdit, unless `loaded`
    (the qualification the form was filled from) shows that save left the qualification as it was: a
    stage move or a logged call in between changes the customer, not what this form edits."""
    take_write_lock(session)
    customer = get_customer(session, actor=actor, customer_id=customer_id)
    require_customer(session, actor, customer, "customer.edit")
    if customer.version != expected_version and (loaded is None or not _same_qualification(customer, loaded)):
        raise stale_edit(session, customer)  # names who saved first
    errors: list[FieldError] = []
    band = (budget_band or "").strip() or None
    if band is not None:
        found = find_value(session, BUDGET_BAND, band)
        if found is None:
            errors.append(FieldError("budget_range", "qual.error.band", {"value": band}))
        else:
            band = found.code
    names = split_competitors(competitors) if isinstance(competitors, str) else tuple(
        c.strip() for c in competitors or () if c and c.strip()
    )  # fmt: skip
    codes: list[str] = []
    for name in names:
        known = find_value(session, COMPETITOR, name)
        code = known.code if known else name
        if code not in codes:
            codes.append(code)
    joined = "、".join(codes) or None
    if joined and len(joined) > 500:
        errors.append(FieldError("competitors", "error.too_long", {"max": "500", "length": str(len(joined))}))
    values: dict[str, object] = {
        "budget_range": band,
        "budget_amount": clean_amount(budget_amount, errors),
        "purchase_timeline": clean_month(purchase_month, errors),
        "use_case": _long_text("use_case", use_case, 4000, errors),
        "competitors": joined,
        "decision_process": _long_text("decision_process", decision_process, 4000, errors),
    }
    if errors:
        raise ValidationError(errors)
    before = {name: getattr(customer, name) for name in QUALIFICATION_FIELDS}
    changed = audit.diff(before, values)
    if not changed:
        return customer
    for name, value in values.items():
        setattr(customer, name, value)
    audit.record(
        session, action=AuditAction.QUALIFY, entity=AuditEntity.CUSTOMER, entity_id=customer.id,
        customer_id=customer.id, user_id=actor.user_id, changes=changed,
    )  # fmt: skip
    flush_edit(session, customer)
    events.record(session, events.CustomerUpdated(customer.id, tuple(sorted(changed))))
    return customer

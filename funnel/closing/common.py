"""Field checks and look-ups the closing use cases share: money, dates, text, the customer in scope."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, require_customer
from funnel.core.db import get_by_id
from funnel.core.errors import FieldError, NotFound
from funnel.core.validation import clean
from funnel.store.models import Customer

# Numeric(14, 2): twelve digits before the point.
MAX_AMOUNT = Decimal("999999999999.99")


def clean_amount(
    field: str, raw: object, errors: list[FieldError], *, required: bool = True, allow_zero: bool = False
) -> Decimal | None:
    """A money amount (2 decimals, positive; "1,200.50" and "¥1200" accepted); an error names `field`."""
    if isinstance(raw, Decimal | int | float) and not isinstance(raw, bool):
        text = str(raw)
    else:
        text = (clean(raw) or "").replace(",", "").replace("，", "").lstrip("¥￥").strip()
    if not text:
        if required:
            errors.append(FieldError(field, "error.required"))
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors.append(FieldError(field, "closing.error.amount_invalid", {"value": str(raw)[:40]}))
        return None
    if not value.is_finite() or value < 0 or (value == 0 and not allow_zero) or value > MAX_AMOUNT:
        errors.append(FieldError(field, "closing.error.amount_invalid", {"value": str(raw)[:40]}))
        return None
    return value.quantize(Decimal("0.01"))


def clean_date(field: str, raw: object, errors: list[FieldError], *, required: bool = False) -> date | None:
    """A calendar day: a date, a datetime (its day) or text YYYY-MM-DD (also YYYY/MM/DD)."""
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = clean(raw)
    if text is None:
        if required:
            errors.append(FieldError(field, "error.required"))
        return None
    try:
        return date.fromisoformat(text.replace("/", "-")[:10])
    except ValueError:
        errors.append(FieldError(field, "closing.error.date_invalid", {"value": text[:40]}))
        return None


def clean_str(field: str, raw: object, errors: list[FieldError], *, max_length: int) -> str | None:
    """Trimmed text or None; too long or holding NUL adds an error naming `field`."""
    value = clean(raw)
    if value is None:
        return None
    if "\x00" in value:
        errors.append(FieldError(field, "error.invalid_characters"))
        return None
    if len(value) > max_length:
        errors.append(
            FieldError(field, "error.too_long", {"max": str(max_length), "length": str(len(value))})
        )
        return None
    return value


def customer_for(session: Session, actor: Actor, customer_id: int, action: str) -> Customer:
    """The customer `customer_id`, if `actor` may do `action` on it (NotFound / PermissionDenied)."""
    customer = get_by_id(session, Customer, customer_id)
    if customer is None:
        raise NotFound("customer", customer_id)
    require_customer(session, actor, customer, action)
    return customer


def customer_id_by_no(session: Session, actor: Actor, customer_no: str, action: str = "customer.read") -> int:
    """The id of customer `customer_no` (trimmed, case-insensitive), if `actor` may do `action` on it."""
    from sqlalchemy import func, select

    wanted = (clean(customer_no) or "").upper()
    found = session.scalar(select(Customer).where(func.upper(Customer.customer_no) == wanted))
    if found is None:
        raise NotFound("customer", wanted or "—")
    require_customer(session, actor, found, action)
    return found.id

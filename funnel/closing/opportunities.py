"""Opportunities (商机): per customer, amount, expected close, products, probability, next step."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.closing.common import clean_amount, clean_date, clean_str, customer_for
from funnel.core.clock import utcnow
from funnel.core.db import take_write_lock
from funnel.core.errors import FieldError, NotFound, ValidationError
from funnel.customers.lists import ListValue, list_values, save_value
from funnel.store.models import Opportunity

PRODUCT_LIST = "product"  # the managed list of the small product / service catalogue
FIELDS = ("name", "amount", "expected_close", "products", "probability", "next_step")


# (code, English, Chinese): the small catalogue a new database starts with; managers may change it.
DEFAULT_PRODUCTS = (
    ("crm_standard", "CRM Standard edition", "CRM 标准版"),
    ("crm_pro", "CRM Professional edition", "CRM 专业版"),
    ("implementation", "Implementation service", "实施服务"),
    ("training", "Training", "培训"),
    ("support", "Annual support", "年度运维"),
)


def catalogue(session: Session) -> list[ListValue]:
    """The product / service catalogue (list `product`; the defaults are added the first time it is empty)."""
    values = list_values(session, PRODUCT_LIST)
    if values or list_values(session, PRODUCT_LIST, include_inactive=True):
        return values
    for order, (code, name_en, name_zh) in enumerate(DEFAULT_PRODUCTS):
        save_value(session, PRODUCT_LIST, code=code, name_en=name_en, name_zh=name_zh, sort_order=order)
    return list_values(session, PRODUCT_LIST)


def product_codes(session: Session) -> list[str]:
    return [value.code for value in list_values(session, PRODUCT_LIST)]


def _probability(raw: object, errors: list[FieldError]) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = int(str(raw).strip().rstrip("%"))
    except ValueError:
        value = -1
    if not 0 <= value <= 100:
        errors.append(
            FieldError("probability", "closing.error.probability_invalid", {"value": str(raw)[:20]})
        )
        return None
    return value


def save_opportunity(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    values: Mapping[str, object],
    opportunity_id: int | None = None,
) -> Opportunity:
    """Add (opportunity_id None) or edit an opportunity of a customer the actor works (customer.edit)."""
    take_write_lock(session)
    customer = customer_for(session, actor, customer_id, "customer.edit")
    errors: list[FieldError] = []
    products = values.get("products")
    if isinstance(products, list | tuple):
        known = set(product_codes(session))
        unknown = [p for p in products if known and p not in known]
        if unknown:
            errors.append(
                FieldError(
                    "products", "closing.error.product_unknown", {"value": ", ".join(map(str, unknown))}
                )
            )
        products = ",".join(str(p) for p in products)
    clean = {
        "name": clean_str("name", values.get("name"), errors, max_length=200),
        "amount": clean_amount("amount", values.get("amount"), errors, allow_zero=True),
        "expected_close": clean_date("expected_close", values.get("expected_close"), errors),
        "products": clean_str("products", products, errors, max_length=500),
        "probability": _probability(values.get("probability"), errors),
        "next_step": clean_str("next_step", values.get("next_step"), errors, max_length=500),
    }
    if errors:
        raise ValidationError(errors)
    if opportunity_id is None:
        row = Opportunity(customer_id=customer.id, created_at=utcnow(), by_user_id=actor.user_id)
        before: dict[str, object] = {}
    else:
        found = session.get(Opportunity, opportunity_id)
        if found is None or found.customer_id != customer.id:
            raise NotFound("opportunity", opportunity_id)
        row = found
        before = {name: getattr(row, name) for name in FIELDS}
    for name, value in clean.items():
        setattr(row, name, value)
    session.add(row)
    session.flush()
    audit.record(
        session,
        action=AuditAction.CREATE if opportunity_id is None else AuditAction.UPDATE,
        entity=AuditEntity.OPPORTUNITY,
        entity_id=row.id,
        customer_id=customer.id,
        user_id=actor.user_id,
        changes=audit.diff(before, dict(clean)),
    )
    return row


def opportunities_table(session: Session, *, actor: Actor, customer_id: int) -> pd.DataFrame:
    """A customer's opportunities, newest first."""
    customer_for(session, actor, customer_id, "customer.read")
    columns = ["id", *FIELDS, "quoted_at", "created_at"]
    stmt = (
        select(*(getattr(Opportunity, name) for name in columns))
        .where(Opportunity.customer_id == customer_id)
        .order_by(Opportunity.created_at.desc(), Opportunity.id.desc())
    )
    frame = pd.DataFrame(session.execute(stmt).all(), columns=columns)
    frame["amount"] = frame["amount"].astype("float64")
    return frame

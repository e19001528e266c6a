"""Quotes (报价): amount, date, valid until, the concessions offered (适度让利); idle quotes are reminded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.closing.common import clean_amount, clean_date, clean_str, customer_for
from funnel.core.clock import day_start_utc, team_today, utcnow
from funnel.core.db import take_write_lock
from funnel.core.errors import FieldError, ValidationError
from funnel.store.models import Activity, Customer, Opportunity, Quote


def add_quote(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    amount: object,
    quoted_on: object = None,
    valid_until: object = None,
    concessions: object = None,
    opportunity_id: int | None = None,
) -> Quote:
    """Record a quote given to a customer the actor works; its opportunity is marked quoted."""
    take_write_lock(session)
    customer = customer_for(session, actor, customer_id, "customer.edit")
    errors: list[FieldError] = []
    value = clean_amount("amount", amount, errors)
    day = clean_date("quoted_on", quoted_on, errors) or team_today()
    until = clean_date("valid_until", valid_until, errors)
    given = clean_str("concessions", concessions, errors, max_length=500)
    if until is not None and until < day:
        errors.append(FieldError("valid_until", "closing.error.valid_before_quote"))
    opportunity = session.get(Opportunity, opportunity_id) if opportunity_id is not None else None
    if opportunity_id is not None and (opportunity is None or opportunity.customer_id != customer.id):
        errors.append(FieldError("opportunity_id", "closing.error.opportunity_other"))
    if errors:
        raise ValidationError(errors)
    assert value is not None
    quote = Quote(
        customer_id=customer.id,
        opportunity_id=opportunity_id,
        amount=value,
        quoted_on=day,
        valid_until=until,
        concessions=given,
        by_user_id=actor.user_id,
        created_at=utcnow(),
    )
    session.add(quote)
    if opportunity is not None:
        opportunity.quoted_at = day_start_utc(day)
    session.flush()
    audit.record(
        session,
        action=AuditAction.CREATE,
        entity=AuditEntity.QUOTE,
        entity_id=quote.id,
        customer_id=customer.id,
        user_id=actor.user_id,
        changes={"amount": [None, float(value)], "concessions": [None, given]},
    )
    return quote


def quotes_table(session: Session, *, actor: Actor, customer_id: int) -> pd.DataFrame:
    customer_for(session, actor, customer_id, "customer.read")
    columns = ["id", "amount", "quoted_on", "valid_until", "concessions", "opportunity_id"]
    stmt = (
        select(*(getattr(Quote, c) for c in columns))
        .where(Quote.customer_id == customer_id)
        .order_by(Quote.quoted_on.desc(), Quote.id.desc())
    )
    frame = pd.DataFrame(session.execute(stmt).all(), columns=columns)
    frame["amount"] = frame["amount"].astype("float64")
    return frame


@dataclass(frozen=True)
class IdleQuote:
    quote_id: int
    customer_id: int
    owner_id: int | None
    quoted_at: datetime


def idle_quotes(
    session: Session,
    *,
    now: datetime,
    idle_days: int,
    since: datetime | None = None,
    customer_id: int | None = None,
) -> list[IdleQuote]:
    """Open customers whose latest quote is over `idle_days` old with no activity since (临门提醒).

    For the timers engine and the customer's red flags; one row per customer (its latest quote), found
    in SQL. `since` bounds the quote times looked at; `customer_id` limits it to one customer.
    """
    latest_stmt = select(Quote.customer_id.label("customer_id"), func.max(Quote.created_at).label("at"))
    if customer_id is not None:
        latest_stmt = latest_stmt.where(Quote.customer_id == customer_id)
    if since is not None:  # a customer's latest quote is at least as new as any of its quotes
        latest_stmt = latest_stmt.where(Quote.created_at >= since)
    latest = latest_stmt.group_by(Quote.customer_id).subquery()
    # Activity since the quote: an indexed look-up per candidate, not a pass over every activity.
    touched = (
        select(Activity.id).where(Activity.customer_id == Customer.id, Activity.at > latest.c.at).exists()
    )
    stmt = (
        select(func.max(Quote.id), Customer.id, Customer.owner_id, latest.c.at)
        .join(latest, latest.c.customer_id == Customer.id)
        .join(Quote, (Quote.customer_id == Customer.id) & (Quote.created_at == latest.c.at))
        .where(Customer.status == "open", latest.c.at < now - timedelta(days=idle_days), ~touched)
        .group_by(Customer.id, Customer.owner_id, latest.c.at)
        .order_by(latest.c.at)
    )
    return [IdleQuote(row[0], row[1], row[2], row[3]) for row in session.execute(stmt)]

"""Speed to lead: minutes from a lead's creation to its first contact, per owner and per channel, in SQL."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, customer_scope, require
from funnel.core.settings import get_settings
from funnel.store.models import Customer, User

SPEED_COLUMNS = ["group", "leads", "contacted", "median_minutes", "p80_minutes", "within_sla", "waiting"]


def _minutes(session: Session) -> object:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", Customer.first_contacted_at - Customer.created_at) / 60.0
    return (func.julianday(Customer.first_contacted_at) - func.julianday(Customer.created_at)) * 1440.0


def speed_to_lead(
    session: Session, *, actor: Actor, since: datetime | None = None, by: str = "owner"
) -> pd.DataFrame:
    """Per owner (by="owner") or channel (by="channel"): leads, contacted, median and p80 minutes to first
    contact, the share contacted within the SLA, and how many are still waiting (open, uncontacted).

    The counts come from SQL; the percentiles from the per-group minutes SQL returns (one number a lead).
    """
    require(actor, "customer.read")
    sla_minutes = get_settings().first_contact_sla_hours * 60
    group = User.display_name if by == "owner" else Customer.channel
    minutes = _minutes(session).label("minutes")  # type: ignore[attr-defined]
    scope = customer_scope(session, actor).conditions()
    counts = (
        select(
            group.label("group"),
            func.count().label("leads"),
            func.count(Customer.first_contacted_at).label("contacted"),
            func.sum(
                case((Customer.first_contacted_at.is_(None) & (Customer.status == "open"), 1), else_=0)
            ).label("waiting"),
        )
        .outerjoin(User, User.id == Customer.owner_id)
        .where(*scope)
        .group_by(group)
    )
    if since is not None:
        counts = counts.where(Customer.created_at >= since)
    totals = pd.DataFrame(session.execute(counts).all(), columns=["group", "leads", "contacted", "waiting"])
    timed = (
        select(group.label("group"), minutes)
        .outerjoin(User, User.id == Customer.owner_id)
        .where(*scope, Customer.first_contacted_at.is_not(None))
    )
    if since is not None:
        timed = timed.where(Customer.created_at >= since)
    per_lead = pd.DataFrame(session.execute(timed).all(), columns=["group", "minutes"])
    per_lead["minutes"] = per_lead["minutes"].astype(float).clip(lower=0)
    per_lead["group"] = per_lead["group"].fillna("-")
    totals["group"] = totals["group"].fillna("-")
    stats = per_lead.groupby("group")["minutes"].agg(
        median_minutes="median",
        p80_minutes=lambda m: m.quantile(0.8),
        within_sla=lambda m: float((m <= sla_minutes).mean()),
    )
    frame = totals.merge(stats, how="left", left_on="group", right_index=True)
    return frame[SPEED_COLUMNS].sort_values("group").reset_index(drop=True)

"""Speed to lead: minutes from a lead's creation to its first contact, per owner and per channel, in SQL."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from math import ceil, floor
from typing import Any

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


def _quantiles(
    rows: Iterable[Any], sizes: dict[Any, int], qs: tuple[float, ...]
) -> dict[Any, tuple[float, ...]]:
    """Per group, each quantile of its values (rows of (group, value) sorted by group then value; `sizes`
    holds each group's count), interpolated linearly between the closest ranks as pandas does."""
    wanted: dict[Any, list[tuple[int, int, float]]] = {
        name: [(floor((n - 1) * q), ceil((n - 1) * q), (n - 1) * q - floor((n - 1) * q)) for q in qs]
        for name, n in sizes.items()
    }
    seen: dict[Any, dict[int, float]] = {}
    current, rank = object(), 0
    for name, value in rows:
        if name != current:
            current, rank = name, 0
        ranks = {r for lo, hi, _ in wanted.get(name, ()) for r in (lo, hi)}
        if rank in ranks:
            seen.setdefault(name, {})[rank] = float(value)
        rank += 1
    return {
        name: tuple(got[lo] + (got[hi] - got[lo]) * frac for lo, hi, frac in wanted[name])
        for name, got in seen.items()
        if all(lo in got and hi in got for lo, hi, _ in wanted[name])
    }


def speed_to_lead(
    session: Session, *, actor: Actor, since: datetime | None = None, by: str = "owner"
) -> pd.DataFrame:
    """Per owner (by="owner") or channel (by="channel"): leads, contacted, median and p80 minutes to first
    contact, the share contacted within the SLA, and how many are still waiting (open, uncontacted).

    Counts and the SLA share come from SQL; the percentiles from the minutes SQL returns sorted per
    group, read as a stream (only the two values around each percentile are kept, so a million contacted
    leads cost no more memory than ten).
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
    counted = session.execute(counts).all()
    totals = pd.DataFrame(counted, columns=["group", "leads", "contacted", "waiting"])
    contacted_minutes = case((minutes < 0, 0.0), else_=minutes)  # a contact logged before creation: 0
    timed = (
        select(group.label("group"), contacted_minutes.label("minutes"))
        .select_from(Customer)
        .outerjoin(User, User.id == Customer.owner_id)
        .where(*scope, Customer.first_contacted_at.is_not(None))
    )
    within = (
        select(group.label("group"), func.count().label("within"))
        .select_from(Customer)
        .outerjoin(User, User.id == Customer.owner_id)
        .where(*scope, Customer.first_contacted_at.is_not(None), minutes <= sla_minutes)
        .group_by(group)
    )
    if since is not None:
        timed = timed.where(Customer.created_at >= since)
        within = within.where(Customer.created_at >= since)
    sizes = {row.group: int(row.contacted) for row in counted if row.contacted}
    ordered = timed.order_by(group, contacted_minutes).execution_options(yield_per=10_000)
    picked = _quantiles(session.execute(ordered), sizes, (0.5, 0.8))
    inside = dict(session.execute(within).tuples().all())
    stats = pd.DataFrame(
        [
            (name, picked[name][0], picked[name][1], inside.get(name, 0) / n)
            for name, n in sizes.items()
            if name in picked
        ],
        columns=["group", "median_minutes", "p80_minutes", "within_sla"],
    )
    stats["group"] = stats["group"].fillna("-")
    totals["group"] = totals["group"].fillna("-")
    stats = stats.set_index("group")
    frame = totals.merge(stats, how="left", left_on="group", right_index=True)
    return frame[SPEED_COLUMNS].sort_values("group").reset_index(drop=True)

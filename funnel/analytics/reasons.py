"""Why customers were lost, counted by the managed list's reason (for the dashboard); and the
qualification's budget bands and competitors, counted the same way.

A lost customer stores the code of its `lost_reason` list value (funnel.customers.stages.move_stage).
Customers lost before the list existed (or imported) carry free text: they are counted under that text
as typed, marked `listed=False`, so an old value stays readable instead of disappearing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.rollups import _scoped, readers_filter
from funnel.core.i18n import t
from funnel.customers.fields import OPEN
from funnel.customers.lists import list_values
from funnel.customers.stages import LOST_REASON_LIST
from funnel.pipeline.stages import LOST
from funnel.store.models import Customer
from funnel.working.qualification import BUDGET_BAND as BUDGET_BAND_LIST
from funnel.working.qualification import COMPETITOR as COMPETITOR_LIST


@dataclass(frozen=True)
class ReasonCount:
    """How many customers were lost for one reason, with the reason's name in both languages."""

    code: str  # the list's code; free text as typed for a reason not on the list; "" for none recorded
    name_en: str
    name_zh: str
    count: int
    listed: bool  # a value of the managed list (False: old free text, or none)

    def label(self, lang: str) -> str:
        return self.name_zh if lang == "zh" else self.name_en


def lost_by_reason(
    session: Session, *, actor: Actor, customer_filter: CustomerFilter | None = None
) -> list[ReasonCount]:
    """Lost customers the actor may read (analytics.read), counted by lost reason, most first.

    Every active reason of the list is present (0 when none was lost for it), so the dashboard's chart
    keeps its categories; free-text and missing reasons follow when they occur.
    """
    filters = readers_filter(session, actor, customer_filter)
    stmt = select(Customer.lost_reason, func.count()).select_from(Customer)
    stmt = _scoped(stmt, filters).where(Customer.status == LOST).group_by(Customer.lost_reason)
    counts = {reason or "": int(n) for reason, n in session.execute(stmt)}
    return _listed_counts(counts, LOST_REASON_LIST, session)


def lost_by_reason_from(session: Session, details: pd.DataFrame) -> list[ReasonCount]:
    """lost_by_reason for the same filter, from a report's loss details (funnel.analytics.rollups
    .loss_details): they count the same lost customers by reason, there also per segment and stage."""
    lost = details[details["kind"] == "lost_reason"]
    counts = {str(reason): int(n) for reason, n in lost.groupby("detail")["count"].sum().items()}
    return _listed_counts(counts, LOST_REASON_LIST, session)


def _listed_counts(
    counts: dict[str, int], list_name: str, session: Session, *, none_key: str = "reasons.none"
) -> list[ReasonCount]:
    """Counts by code as ReasonCount rows: every active value of the list, then unlisted values as typed."""
    listed = {v.code: v for v in list_values(session, list_name, include_inactive=True)}
    rows = [
        ReasonCount(code, value.name_en, value.name_zh, counts.pop(code, 0), True)
        for code, value in listed.items()
        if value.active or code in counts
    ]
    none = counts.pop("", 0)
    rows += [ReasonCount(text, text, text, n, False) for text, n in counts.items()]
    if none:
        rows.append(ReasonCount("", t(none_key, "en"), t(none_key, "zh"), none, False))
    return sorted(rows, key=lambda row: (-row.count, not row.listed, row.code))


def open_by_budget_band(
    session: Session, *, actor: Actor, customer_filter: CustomerFilter | None = None
) -> list[ReasonCount]:
    """Open customers the actor may read, counted by qualified budget band (list `budget_band`)."""
    return qualification_counts(session, actor=actor, customer_filter=customer_filter)[0]


def competitor_mentions(
    session: Session, *, actor: Actor, customer_filter: CustomerFilter | None = None
) -> list[ReasonCount]:
    """How many customers the actor may read name each competitor of the list `competitor`."""
    return qualification_counts(session, actor=actor, customer_filter=customer_filter)[1]


def qualification_counts(
    session: Session, *, actor: Actor, customer_filter: CustomerFilter | None = None
) -> tuple[list[ReasonCount], list[ReasonCount]]:
    """The open customers by budget band, and every customer's competitor mentions, in one pass.

    Qualification stores the competitors as codes joined by "、" (funnel.working.qualification). The
    customers are counted per (open or not, budget band, stored competitors text) in SQL, a few hundred
    combinations however many customers; then the bands of the open ones are summed, and each listed
    competitor code is looked for in the texts. Free-text rivals are not counted.
    """
    filters = readers_filter(session, actor, customer_filter)
    # Grouped by the status itself (three values), so that the qualification index (status, budget band,
    # competitors) answers it alone.
    grouped = (Customer.status, Customer.budget_range, Customer.competitors)
    stmt = _scoped(select(*grouped, func.count()).select_from(Customer), filters).group_by(*grouped)
    bands: dict[str, int] = {}
    texts: dict[str, int] = {}
    for status, band, competitors, n in session.execute(stmt):
        if status == OPEN:
            bands[band or ""] = bands.get(band or "", 0) + int(n)
        if competitors:
            texts[f"、{competitors}、"] = texts.get(f"、{competitors}、", 0) + int(n)
    by_band = _listed_counts(bands, BUDGET_BAND_LIST, session, none_key="reasons.no_band")
    values = list_values(session, COMPETITOR_LIST)
    mentions = [
        ReasonCount(
            v.code, v.name_en, v.name_zh, sum(n for text, n in texts.items() if f"、{v.code}、" in text), True
        )
        for v in values
    ]
    return by_band, sorted(mentions, key=lambda r: (-r.count, r.code))

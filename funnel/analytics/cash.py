"""Through to cash: customers -> with an opportunity -> with a signed contract -> with a payment.

The steps and amounts are `report.entity_totals` (the figures `report` prints); the table behind them
is the data factory's merged view, one row per customer number, with the columns and arithmetic of
`funnel.closing.merged` (`python -m funnel export merged`), narrowed by the analytics filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, require
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.funnel_math import ratio
from funnel.analytics.report import entity_totals
from funnel.analytics.rollups import readers_filter
from funnel.closing.merged import MERGED_COLUMNS, merged_select
from funnel.core.export import csv_bytes
from funnel.store.models import Customer

CASH_STEPS = ("customers", "with_opportunity", "with_contract", "with_payment")
# Which customers of the merged table to show: all, or those that got as far as a step.
SHOW = ("all", "with_opportunity", "with_contract", "with_payment", "outstanding")
MONEY = ("opportunity_amount", "contract_amount", "paid_amount", "outstanding")


@dataclass(frozen=True)
class CashFunnel:
    """How many customers reached each step and the money at each: pipeline, contracted, collected."""

    customers: int
    with_opportunity: int
    with_contract: int
    with_payment: int
    pipeline: float  # every opportunity's amount
    contracted: float  # signed contracts
    collected: float  # payments received

    @property
    def outstanding(self) -> float:
        """Signed but not yet paid: contracted - collected (summed as the merged table does per row)."""
        return round(self.contracted - self.collected, 2)

    def steps(self) -> pd.DataFrame:
        """One row per step: customers, share of all customers, share of the step before, amount."""
        counts = [self.customers, self.with_opportunity, self.with_contract, self.with_payment]
        amounts: list[float | None] = [None, self.pipeline, self.contracted, self.collected]
        return pd.DataFrame(
            {
                "step": list(CASH_STEPS),
                "customers": counts,
                "share": [ratio(n, self.customers) for n in counts],
                "step_conversion": [None, *(ratio(n, prev) for prev, n in pairwise(counts))],
                "amount": amounts,
            }
        )


def cash_funnel(session: Session, *, actor: Actor, filters: CustomerFilter | None = None) -> CashFunnel:
    """The through-to-cash steps and amounts of the customers `filters` selects that `actor` may read."""
    totals = entity_totals(session, readers_filter(session, actor, filters))
    return CashFunnel(
        customers=int(totals["customers"]),
        with_opportunity=int(totals["with_opportunity"]),
        with_contract=int(totals["with_contract"]),
        with_payment=int(totals["with_payment"]),
        pipeline=float(totals["opportunity_amount"]),
        contracted=float(totals["contract_amount"]),
        collected=float(totals["paid_amount"]),
    )


def _merged_select(show: str) -> Any:
    """The export's per-customer select (closing.merged.merged_select), narrowed by `show`."""
    if show not in SHOW:
        raise ValueError(f"show must be one of {', '.join(SHOW)}")
    stmt, narrowing = merged_select()
    return stmt if show == "all" else stmt.where(narrowing[show])


def merged_table(
    session: Session,
    *,
    actor: Actor,
    filters: CustomerFilter | None = None,
    show: str = "all",
    limit: int | None = None,
) -> pd.DataFrame:
    """The merged rows (the customer's `id`, then MERGED_COLUMNS) of the filtered customers, by number."""
    require(actor, "customer.read")
    filters = readers_filter(session, actor, filters)
    stmt = _merged_select(show)
    conditions = filters.conditions()
    if conditions:
        stmt = stmt.where(*conditions)
    stmt = stmt.order_by(Customer.customer_no)
    if limit is not None:
        stmt = stmt.limit(limit)
    frame = pd.DataFrame(session.execute(stmt).all(), columns=["id", *MERGED_COLUMNS])
    for name in MONEY:
        frame[name] = frame[name].map(lambda v: round(float(v or 0), 2)).astype("float64")
    for name in ("opportunities", "contracts"):
        frame[name] = frame[name].fillna(0).astype("int64")
    return frame


def merged_count(
    session: Session, *, actor: Actor, filters: CustomerFilter | None = None, show: str = "all"
) -> int:
    """How many rows `merged_table` has without a limit (counted in SQL)."""
    require(actor, "customer.read")
    filters = readers_filter(session, actor, filters)
    stmt = _merged_select(show)
    conditions = filters.conditions()
    if conditions:
        stmt = stmt.where(*conditions)
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


def merged_csv(frame: pd.DataFrame) -> bytes:
    """The merged table as `export merged` writes it: its columns, spreadsheet-safe, UTF-8 with a BOM."""
    return csv_bytes(frame[list(MERGED_COLUMNS)])

"""Demo deals: opportunity amounts, contracts, payments (回款) and the objections raised on the way."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from funnel.demo.catalog import OBJECTIONS, PRODUCTS, Industry
from funnel.pipeline.stages import LOST, WON

# Appends one row to a table and returns its id: DemoRows._add.
Add = Callable[..., int]
MIN_AMOUNT, MAX_AMOUNT = 20_000, 2_000_000


@dataclass(frozen=True)
class RaisedObjection:
    stage: str
    category: str
    detail: str


def deal_amount(rng: random.Random, industry: Industry) -> int:
    """A deal size in CNY: mostly tens to hundreds of thousands, a few millions; finance pays most."""
    raw = rng.lognormvariate(math.log(150_000), 0.9) * industry.amount_factor
    return int(min(MAX_AMOUNT, max(MIN_AMOUNT, raw)) // 1000) * 1000


def budget_range(amount: int) -> str:
    if amount < 100_000:
        return "10万以下"
    if amount < 300_000:
        return "10-30万"
    return "30-100万" if amount < 1_000_000 else "100万以上"


def _hundreds(value: float) -> int:
    return int(value // 100) * 100


def payment_schedule(rng: random.Random, amount: int, signed: date) -> list[tuple[int, date]]:
    """回款 planned for a contract: in full, in two installments, a deposit only, or nothing yet."""
    plan = rng.random()
    # Whole hundreds keep sums exact on SQLite, which stores NUMERIC as floating point.
    deposit = _hundreds(amount * rng.choice((0.3, 0.5)))
    if plan < 0.3:
        return [(amount, signed + timedelta(days=rng.randint(7, 45)))]
    if plan < 0.7:
        return [
            (deposit, signed + timedelta(days=rng.randint(3, 20))),
            (amount - deposit, signed + timedelta(days=rng.randint(30, 90))),
        ]
    if plan < 0.85:
        return [(deposit, signed + timedelta(days=rng.randint(3, 20)))]
    return []


def add_deal(
    add: Add,
    rng: random.Random,
    *,
    customer_id: int,
    company: str,
    amount: int,
    opened: datetime,
    quoted: datetime | None,
    won_at: datetime | None,
    today: date,
) -> Decimal | None:
    """The opportunity of a qualified lead and, when won, its contract and the payments received so far;
    the signed amount (None: no contract)."""
    if won_at is not None:
        # Forecasts miss in both directions, so leadership's comparison has something to show.
        expected = won_at.date() + timedelta(days=rng.randint(-20, 25))
    else:
        expected = opened.date() + timedelta(days=rng.randint(20, 120))
    opportunity_id = add(
        "opportunity",
        customer_id=customer_id,
        name=f"{company} · {rng.choice(PRODUCTS)}",
        amount=Decimal(amount),
        expected_close=expected,
        quoted_at=quoted,
        created_at=opened,
    )
    if won_at is None:
        return None
    signed = won_at.date()
    signed_amount = _hundreds(amount * rng.uniform(0.85, 1.0))
    contract_id = add(
        "contract",
        customer_id=customer_id,
        opportunity_id=opportunity_id,
        contract_no=f"HT{signed:%Y%m%d}{customer_id:06d}",
        amount=Decimal(signed_amount),
        signed_on=signed,
        status="signed",
        created_at=won_at,
    )
    schedule = payment_schedule(rng, signed_amount, signed)
    if sum(paid for paid, _ in schedule) == signed_amount:  # a plan only where it covers the contract
        for planned, due in schedule:
            add(
                "payment_instalment",
                customer_id=customer_id,
                contract_id=contract_id,
                amount=Decimal(planned),
                due_on=due,
                created_at=won_at,
            )
    for paid, received in schedule:
        if received >= today or paid <= 0:
            break  # not received yet: payment dates never run past the anchor
        add(
            "payment",
            customer_id=customer_id,
            contract_id=contract_id,
            amount=Decimal(paid),
            received_on=received,
            created_at=datetime.combine(received, time(2, rng.randrange(60))),
        )
    return Decimal(signed_amount)


def add_objections(
    add: Add,
    rng: random.Random,
    *,
    customer_id: int,
    late_stages: list[tuple[str, datetime, datetime]],
    outcome: str,
    owner_id: int | None,
) -> list[RaisedObjection]:
    """One or two objections, each at one of (stage, reached at, left at) and raised while there."""
    raised: list[RaisedObjection] = []
    categories = list(OBJECTIONS)
    for _ in range(1 if rng.random() < 0.75 else 2):
        stage, entered, left = rng.choice(late_stages)
        category = rng.choices(categories, weights=[OBJECTIONS[c][0] for c in categories])[0]
        objection = RaisedObjection(stage, category, rng.choice(OBJECTIONS[category][1]))
        if outcome == WON:
            status = "resolved"
        else:
            status = "open" if outcome == LOST or rng.random() < 0.6 else "resolved"
        at = entered + (left - entered) * rng.uniform(0.1, 0.9)
        add(
            "objection",
            customer_id=customer_id,
            category=category,
            detail=objection.detail,
            stage=stage,
            status=status,
            created_at=at.replace(microsecond=0),
            by_user_id=owner_id,
        )
        raised.append(objection)
    return raised

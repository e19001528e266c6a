"""Analytics shown on a page: the entity funnel's shares, amounts short enough for a metric tile."""

from __future__ import annotations

import pandas as pd


def entity_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The entity funnel with each step's share of all customers."""
    first = int(frame["customers"].iloc[0]) if not frame.empty else 0
    share = frame["customers"] / first if first else frame["customers"] * 0.0
    return frame.assign(share=share)[["step", "customers", "share", "amount"]]


def short_money(amount: float, lang: str) -> str:
    """An amount short enough for a metric tile: ¥34.3M in English, ¥3431万 in Chinese."""
    if lang == "zh" and abs(amount) >= 100_000_000:
        return f"¥{amount / 100_000_000:,.1f}亿"
    if lang == "zh" and abs(amount) >= 10_000:
        return f"¥{amount / 10_000:.0f}万"
    if abs(amount) >= 1_000_000:
        return f"¥{amount / 1_000_000:,.1f}M"
    if abs(amount) >= 10_000:
        return f"¥{amount / 1_000:,.0f}k"
    return f"¥{amount:,.0f}"

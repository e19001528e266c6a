"""Streamlit-free helpers behind the pages: filter periods, lead-form defaults, display frames."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from funnel.capture.leads import LeadInput

# Where Chinese B2B leads usually come from; the lead form offers these and accepts any other.
SUGGESTED_CHANNELS = ("官网", "公众号", "直播", "小红书", "展会", "转介绍", "广告投放")

# Dashboard period presets: key -> days back from today (None: no bound).
PERIODS: dict[str, int | None] = {"all": None, "30d": 30, "90d": 90, "180d": 182, "365d": 365}
CUSTOM_PERIOD = "custom"


def period_bounds(
    preset: str, *, today: date, custom: tuple[date, ...] = ()
) -> tuple[date | None, date | None]:
    """(since, until) for a period preset; `custom` is a date-range widget's value (0-2 dates)."""
    if preset == CUSTOM_PERIOD:
        since = custom[0] if custom else None
        until = custom[1] if len(custom) > 1 else None
        return since, until
    days = PERIODS.get(preset)
    return (None, None) if days is None else (today - timedelta(days=days), today)


def channel_options(known: list[str]) -> list[str]:
    """The suggested channels first, then channels already in the data, without repeats."""
    return list(dict.fromkeys([*SUGGESTED_CHANNELS, *known]))


# The lead form's fields: widget key suffix -> empty value. Text fields are "" and choices None.
LEAD_TEXT_FIELDS = (
    "name",
    "company",
    "contact_name",
    "phone",
    "email",
    "wechat",
    "region",
    "industry",
    "tags",
)
LEAD_CHOICE_FIELDS = ("channel", "grade", "stage")


def lead_form_defaults(first_stage: str) -> dict[str, str | None]:
    """Every field of an empty lead form."""
    values: dict[str, str | None] = dict.fromkeys(LEAD_TEXT_FIELDS, "")
    values.update(channel=None, grade="", stage=first_stage)
    return values


def lead_input(values: dict[str, str | None]) -> LeadInput:
    """A LeadInput from the lead form's values (validation happens in funnel.capture.leads.create_lead)."""
    given = {name: values.get(name) or None for name in (*LEAD_TEXT_FIELDS, *LEAD_CHOICE_FIELDS)}
    return LeadInput(
        name=given["name"] or "",
        company=given["company"],
        contact_name=given["contact_name"],
        phone=given["phone"],
        email=given["email"],
        wechat=given["wechat"],
        channel=given["channel"],
        region=given["region"],
        industry=given["industry"],
        tags=given["tags"],
        grade=given["grade"],
        stage=given["stage"],
    )


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

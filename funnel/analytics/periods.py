"""Analytics periods: the dashboard's presets and what (since, until) each one means."""

from __future__ import annotations

from datetime import date, timedelta

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

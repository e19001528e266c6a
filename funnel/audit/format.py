"""The audit trail made readable: changes as "field: old → new", times in the reader's time zone."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, date, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from funnel.audit.actions import AuditAction

# Every action the use cases record; the audit page filters by these.
KNOWN_ACTIONS = tuple(action.value for action in AuditAction)
MISSING = "—"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_VALUE_LENGTH = 80


def describe_value(value: object) -> str:
    """One old or new value as a reader wants it: no None, no 12.0, no line breaks, not too long."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return ", ".join(describe_value(item) for item in value) or MISSING
    if isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = " ".join(str(value).split())
    return text if len(text) <= MAX_VALUE_LENGTH else text[: MAX_VALUE_LENGTH - 1] + "…"


def describe_changes(changes: Mapping[str, object] | None, label: Callable[[str], str] = str) -> str:
    """{field: [old, new]} as "Field: old → new; ..."; a value not stored as a pair is shown alone.

    `label` names a field in the reader's language (the page passes the field specification's labels).
    """
    if not changes:
        return ""
    parts = []
    for field, entry in changes.items():
        if isinstance(entry, list | tuple) and len(entry) == 2:
            old, new = entry
            parts.append(f"{label(field)}: {describe_value(old)} → {describe_value(new)}")
        else:
            parts.append(f"{label(field)}: {describe_value(entry)}")
    return "; ".join(parts)


def reader_zone(name: str | None) -> tzinfo:
    """The browser's time zone by IANA name; UTC when it is unknown."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def query_days(since: date | None, until: date | None) -> tuple[date | None, date | None]:
    """The UTC days to fetch so that every moment of the local days since..until is among them."""
    day = timedelta(days=1)
    return (since - day if since else None, until + day if until else None)


def local_times(values: pd.Series, zone: tzinfo) -> pd.Series:
    """Naive UTC timestamps as text in `zone`; empty text where there is no time."""
    local = pd.to_datetime(values).dt.tz_localize(UTC).dt.tz_convert(zone)
    return local.dt.strftime(TIME_FORMAT).fillna("")


def audit_view(
    entries: pd.DataFrame,
    *,
    zone: tzinfo,
    since: date | None = None,
    until: date | None = None,
    label: Callable[[str], str] = str,
) -> pd.DataFrame:
    """Audit rows (naive UTC `at`) kept to the local days since..until, with readable time and changes."""
    local = pd.to_datetime(entries["at"]).dt.tz_localize(UTC).dt.tz_convert(zone)
    keep = pd.Series(True, index=entries.index)
    if since:
        keep &= local.dt.date >= since
    if until:
        keep &= local.dt.date <= until
    view = entries[keep].copy()
    view["at"] = local[keep].dt.strftime(TIME_FORMAT)
    view["changes"] = view["changes"].map(lambda changes: describe_changes(changes, label))
    view["customer_no"] = view["customer_no"].astype("object").where(view["customer_no"].notna(), "")
    for column in ("entity_id", "customer_id"):  # ids as text: no "12.0", and blank rather than "None"
        view[column] = view[column].astype("Int64").astype("string").fillna("")
    return view.reset_index(drop=True)

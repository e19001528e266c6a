"""The one place that reads the wall clock and knows the team's time zone.

Timestamps are stored as naive UTC. "A day", "a week" and a spreadsheet time without a zone are the
sales team's (settings.timezone, default Asia/Shanghai): a lead created at 07:00 in Shanghai on
1 May belongs to 1 May, though it is 23:00 on 30 April in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from funnel.core.settings import get_settings


def utcnow() -> datetime:
    """Now, as naive UTC (how every timestamp is stored)."""
    return datetime.now(UTC).replace(tzinfo=None)


def team_zone() -> ZoneInfo:
    name = get_settings().timezone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"CRM_TIMEZONE {name!r} is not a known time zone (e.g. Asia/Shanghai)") from exc


def local_to_utc(value: datetime) -> datetime:
    """A naive time on the team's clock as naive UTC (an aware time is simply converted)."""
    aware = value if value.tzinfo else value.replace(tzinfo=team_zone())
    return aware.astimezone(UTC).replace(tzinfo=None)


def day_start_utc(day: date) -> datetime:
    """The instant the team's `day` begins, as naive UTC."""
    return local_to_utc(datetime.combine(day, time.min))


def team_today() -> date:
    return datetime.now(team_zone()).date()


def next_day(day: date) -> date:
    return day + timedelta(days=1)

"""The first-contact deadline: the one place that knows the SLA and business hours (timers and leads list).

A lead must be contacted within `first_contact_sla_hours` of its creation. With
`first_contact_business_hours` on, only business hours count (the `business_days` from
`business_hours_start` to `business_hours_end` on the team's clock): a lead created on Friday at 17:00
with a 24 h SLA is due 24 working hours later, skipping the weekend. A lead is overdue once `now` is
past its deadline (at the very deadline it is still on time), like the leads list's plain flag.

`overdue_created_until(now)` turns the rule round for SQL: the deadline grows with the creation time, so
"deadline < now" is "created_at <= one instant", an index range instead of a computation per row.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, and_

from funnel.core.settings import Settings, get_settings
from funnel.store.models import Customer

_TICK = timedelta(microseconds=1)  # the resolution of a stored timestamp


def _zone(settings: Settings) -> ZoneInfo:
    try:
        return ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"CRM_TIMEZONE {settings.timezone!r} is not a known time zone") from exc


def _check_business_hours(settings: Settings) -> None:
    start, end = settings.business_hours_start, settings.business_hours_end
    if not (0 <= start < end <= 24) or not settings.business_days:
        raise ValueError(
            "business hours need CRM_BUSINESS_HOURS_START < CRM_BUSINESS_HOURS_END within 0-24 "
            f"and at least one CRM_BUSINESS_DAYS day (got {start}-{end}, days {settings.business_days})"
        )


def _utc(local_day: date, hour: int, zone: ZoneInfo) -> datetime:
    """`hour` o'clock of the team's `local_day`, as naive UTC."""
    local = datetime.combine(local_day, time.min) + timedelta(hours=hour)
    return local.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def business_periods(start: datetime, settings: Settings) -> Iterator[tuple[datetime, datetime]]:
    """The business periods (open, close) in naive UTC from the team's day of `start` on, in order."""
    _check_business_hours(settings)
    zone = _zone(settings)
    day = start.replace(tzinfo=UTC).astimezone(zone).date()
    while True:
        if day.isoweekday() in settings.business_days:
            yield (
                _utc(day, settings.business_hours_start, zone),
                _utc(day, settings.business_hours_end, zone),
            )
        day += timedelta(days=1)


def add_business_time(start: datetime, duration: timedelta, settings: Settings) -> datetime:
    """The instant at which `duration` of business time has passed since `start` (naive UTC)."""
    remaining = duration
    for opens, closes in business_periods(start, settings):
        begin = max(start, opens)
        if begin >= closes:
            continue
        if remaining <= closes - begin:
            return begin + remaining
        remaining -= closes - begin
    raise AssertionError("unreachable: business_periods never ends")


def first_contact_deadline(
    created_at: datetime, settings: Settings | None = None, *, extra_hours: int = 0
) -> datetime:
    """When a lead created at `created_at` must have been contacted (naive UTC).

    `extra_hours` adds the escalation delay on the same clock (business hours or not).
    """
    settings = settings or get_settings()
    duration = timedelta(hours=settings.first_contact_sla_hours + extra_hours)
    if not settings.first_contact_business_hours:
        return created_at + duration
    return add_business_time(created_at, duration, settings)


def is_first_contact_overdue(
    created_at: datetime, now: datetime, settings: Settings | None = None, *, extra_hours: int = 0
) -> bool:
    return now > first_contact_deadline(created_at, settings, extra_hours=extra_hours)


def overdue_created_until(
    now: datetime, settings: Settings | None = None, *, extra_hours: int = 0
) -> datetime:
    """The latest creation time whose deadline (plus `extra_hours`) has passed at `now`.

    A lead is overdue exactly when created_at <= this instant. The deadline never comes before
    created_at + the SLA, and it grows with created_at, so a binary search over microseconds below
    now - SLA finds the boundary exactly (about 40 deadline computations).
    """
    settings = settings or get_settings()
    duration = timedelta(hours=settings.first_contact_sla_hours + extra_hours)
    upper = now - duration  # never overdue: its deadline is at least `now`
    if not settings.first_contact_business_hours:
        return upper - _TICK

    def overdue(created: datetime) -> bool:
        return is_first_contact_overdue(created, now, settings, extra_hours=extra_hours)

    step = timedelta(days=1)
    lower = upper - step
    while not overdue(lower):
        step *= 2
        lower = upper - step
    # Invariant: overdue(lower) and not overdue(upper).
    low, high = 0, (upper - lower) // _TICK
    while high - low > 1:
        middle = (low + high) // 2
        if overdue(lower + middle * _TICK):
            low = middle
        else:
            high = middle
    return lower + low * _TICK


def first_contact_overdue_sql(
    now: datetime, settings: Settings | None = None, *, extra_hours: int = 0
) -> ColumnElement[bool]:
    """SQL: an open customer nobody has contacted yet whose first-contact deadline has passed at `now`."""
    return and_(
        Customer.status == "open",
        Customer.first_contacted_at.is_(None),
        Customer.created_at <= overdue_created_until(now, settings, extra_hours=extra_hours),
    )


# The first-contact states a list filters by: past the deadline, still within it, contacted.
SLA_OVERDUE, SLA_DUE, SLA_DONE = "overdue", "due", "done"
SLA_STATES = (SLA_OVERDUE, SLA_DUE, SLA_DONE)


def first_contact_state_sql(
    state: str, now: datetime, settings: Settings | None = None
) -> ColumnElement[bool]:
    """SQL: customers in first-contact `state` at `now` (overdue and due are open, uncontacted leads)."""
    if state == SLA_DONE:
        return Customer.first_contacted_at.is_not(None)
    bound = overdue_created_until(now, settings)
    waiting = and_(Customer.status == "open", Customer.first_contacted_at.is_(None))
    if state == SLA_OVERDUE:
        return and_(waiting, Customer.created_at <= bound)
    if state == SLA_DUE:
        return and_(waiting, Customer.created_at > bound)
    raise ValueError(f"unknown first-contact state {state!r}")

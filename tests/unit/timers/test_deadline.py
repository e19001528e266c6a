"""The first-contact deadline, with and without business hours, and its SQL form (a creation-time bound)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from funnel.core.settings import Settings
from funnel.timers.deadline import first_contact_deadline, is_first_contact_overdue, overdue_created_until

PLAIN = Settings(timezone="UTC")
BUSINESS = replace(PLAIN, first_contact_business_hours=True)  # Mon-Fri 9-18, 24 business hours
SHANGHAI = replace(BUSINESS, timezone="Asia/Shanghai")
# 2026-12-04 is a Friday, 2026-12-07 the Monday after.
FRI, SAT, MON = datetime(2026, 12, 4), datetime(2026, 12, 5), datetime(2026, 12, 7)


@pytest.mark.parametrize(
    ("settings", "created", "deadline"),
    [
        (PLAIN, FRI.replace(hour=10), SAT.replace(hour=10)),
        # Fri 10-18 (8 h), Mon 9-18 (9 h), Tue 9-16 (7 h): the weekend does not count.
        (BUSINESS, FRI.replace(hour=10), datetime(2026, 12, 8, 16)),
        # Created on the weekend or after hours: the clock starts on Monday at 9:00.
        (BUSINESS, SAT.replace(hour=11), datetime(2026, 12, 9, 15)),
        (BUSINESS, FRI.replace(hour=20), datetime(2026, 12, 9, 15)),
        (BUSINESS, MON.replace(hour=7), datetime(2026, 12, 9, 15)),
        (replace(BUSINESS, first_contact_sla_hours=4), FRI.replace(hour=16), MON.replace(hour=11)),
        (replace(BUSINESS, first_contact_sla_hours=2), FRI.replace(hour=16), FRI.replace(hour=18)),
        # The team's clock: Friday 10:00 in Shanghai is 02:00 UTC; due Tuesday 16:00 Shanghai = 08:00 UTC.
        (SHANGHAI, FRI.replace(hour=2), datetime(2026, 12, 8, 8)),
        (
            replace(BUSINESS, business_days=(1, 2, 3, 4, 5, 6)),
            FRI.replace(hour=10),
            datetime(2026, 12, 7, 16),
        ),
    ],
)
def test_the_deadline_counts_only_business_hours_when_asked(
    settings: Settings, created: datetime, deadline: datetime
) -> None:
    assert first_contact_deadline(created, settings) == deadline


def test_the_escalation_delay_runs_on_the_same_clock() -> None:
    created = FRI.replace(hour=10)
    # 24 + 4 business hours: Tuesday 16:00 + 2 h, then Wednesday 9:00 + 2 h.
    assert first_contact_deadline(created, BUSINESS, extra_hours=4) == datetime(2026, 12, 9, 11)
    assert first_contact_deadline(created, PLAIN, extra_hours=4) == SAT.replace(hour=14)


@pytest.mark.parametrize("settings", [PLAIN, BUSINESS])
def test_a_lead_is_overdue_only_after_its_deadline(settings: Settings) -> None:
    created = FRI.replace(hour=10)
    deadline = first_contact_deadline(created, settings)
    tick = timedelta(microseconds=1)

    assert not is_first_contact_overdue(created, deadline - timedelta(seconds=1), settings)
    assert not is_first_contact_overdue(created, deadline, settings)  # at the limit: still on time
    assert is_first_contact_overdue(created, deadline + tick, settings)


def test_a_lead_due_on_friday_evening_stays_overdue_over_the_weekend() -> None:
    assert first_contact_deadline(datetime(2026, 12, 3, 9), BUSINESS) == MON.replace(hour=15)  # 9 + 9 + 6 h
    created = datetime(2026, 12, 2, 12)  # Wednesday 12:00: 6 + 9 + 9 = Friday 18:00 exactly
    assert first_contact_deadline(created, BUSINESS) == FRI.replace(hour=18)
    for now in (FRI.replace(hour=18, second=1), SAT.replace(hour=12), MON.replace(hour=8, minute=59)):
        assert is_first_contact_overdue(created, now, BUSINESS)
        assert created <= overdue_created_until(now, BUSINESS)


def test_bad_business_hours_are_refused_with_the_settings_named() -> None:
    with pytest.raises(ValueError, match="CRM_BUSINESS_HOURS_START"):
        first_contact_deadline(FRI, replace(BUSINESS, business_hours_start=18, business_hours_end=9))


instants = st.datetimes(min_value=datetime(2026, 11, 1), max_value=datetime(2027, 1, 31))


@hypothesis_settings(max_examples=150, deadline=None)
@given(
    created=instants,
    now=instants,
    business=st.booleans(),
    zone=st.sampled_from(["UTC", "Asia/Shanghai", "Europe/Berlin"]),
    extra=st.sampled_from([0, 4]),
)
def test_the_sql_bound_agrees_with_the_deadline_for_every_creation_time(
    created: datetime, now: datetime, business: bool, zone: str, extra: int
) -> None:
    settings = replace(PLAIN, first_contact_business_hours=business, timezone=zone)
    bound = overdue_created_until(now, settings, extra_hours=extra)

    assert is_first_contact_overdue(created, now, settings, extra_hours=extra) == (created <= bound)
    # The bound is exact: the instant itself is overdue, the next microsecond is not.
    assert is_first_contact_overdue(bound, now, settings, extra_hours=extra)
    assert not is_first_contact_overdue(bound + timedelta(microseconds=1), now, settings, extra_hours=extra)

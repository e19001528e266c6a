from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from funnel.capture.import_parsing import parse_date
from funnel.core.clock import day_start_utc, local_to_utc, team_zone
from funnel.core.settings import get_settings


@pytest.fixture
def shanghai(monkeypatch):
    monkeypatch.setenv("CRM_TIMEZONE", "Asia/Shanghai")
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("zone", "day", "expected_utc"),
    [
        ("Asia/Shanghai", date(2026, 5, 1), datetime(2026, 4, 30, 16, 0)),
        ("UTC", date(2026, 5, 1), datetime(2026, 5, 1, 0, 0)),
        ("America/Sao_Paulo", date(2018, 2, 26), datetime(2018, 2, 26, 3, 0)),
        ("Europe/Berlin", date(2026, 7, 1), datetime(2026, 6, 30, 22, 0)),  # summer time
    ],
)
def test_a_team_day_starts_at_its_local_midnight(monkeypatch, zone, day, expected_utc):
    monkeypatch.setenv("CRM_TIMEZONE", zone)
    get_settings.cache_clear()

    assert day_start_utc(day) == expected_utc


def test_naive_times_are_on_the_team_clock_and_aware_ones_are_converted(shanghai):
    assert local_to_utc(datetime(2026, 5, 1, 9, 30)) == datetime(2026, 5, 1, 1, 30)
    aware = datetime(2026, 5, 1, 9, 30, tzinfo=timezone(timedelta(hours=-3)))
    assert local_to_utc(aware) == datetime(2026, 5, 1, 12, 30)


def test_spreadsheet_times_without_a_zone_are_read_as_the_teams(shanghai):
    assert parse_date("2024/5/1 09:30") == datetime(2024, 5, 1, 1, 30)
    assert parse_date("2024-05-01T09:30:00Z") == datetime(2024, 5, 1, 9, 30)


def test_an_unknown_zone_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("CRM_TIMEZONE", "Mars/Olympus")
    get_settings.cache_clear()

    with pytest.raises(ValueError, match="CRM_TIMEZONE"):
        team_zone()

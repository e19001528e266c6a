"""The audit trail made readable: changes, values, time zones and local-day filtering."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

import funnel
from funnel.audit.actions import AuditAction
from funnel.audit.format import (
    KNOWN_ACTIONS,
    audit_view,
    describe_changes,
    describe_value,
    local_times,
    query_days,
    reader_zone,
)
from funnel.audit.read import AUDIT_COLUMNS
from funnel.core.i18n import catalogue


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (None, ""),
        ({}, ""),
        ({"stage": ["lead", "qualify"]}, "stage: lead → qualify"),
        ({"grade": [None, "A"]}, "grade: — → A"),
        ({"name": ["Acme", None]}, "name: Acme → —"),
        ({"region": ["", "华东"]}, "region: — → 华东"),
        ({"is_active": [True, False]}, "is_active: ✓ → ✗"),
        ({"amount": [1200.0, 1500.5]}, "amount: 1200 → 1500.5"),
        ({"tags": [["vip"], ["vip", "展会"]]}, "tags: vip → vip, 展会"),
        ({"role": ["rep", "manager"], "team": [None, "east"]}, "role: rep → manager; team: — → east"),
        ({"shared_with": 7}, "shared_with: 7"),
        ({"note": ["a\nb", "c"]}, "note: a b → c"),
    ],
    ids=[
        "none", "empty", "one-field", "from-nothing", "to-nothing", "empty-string", "booleans",
        "numbers", "lists", "two-fields-in-order", "not-a-pair", "line-breaks",
    ],
)  # fmt: skip
def test_changes_read_as_field_old_arrow_new(changes, expected):
    assert describe_changes(changes) == expected


def test_a_long_value_is_shortened_with_an_ellipsis():
    text = describe_value("x" * 200)
    assert len(text) == 80
    assert text.endswith("…")


def test_a_mapping_value_is_shown_as_compact_json():
    assert describe_value({"b": 1, "a": "华"}) == '{"a": "华", "b": 1}'


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Asia/Shanghai", ZoneInfo("Asia/Shanghai")), (None, UTC), ("", UTC), ("Not/AZone", UTC)],
)
def test_the_reader_zone_falls_back_to_utc(name, expected):
    assert reader_zone(name) == expected


def test_query_days_widen_the_local_range_by_a_day_each_side():
    assert query_days(date(2025, 6, 5), date(2025, 6, 7)) == (date(2025, 6, 4), date(2025, 6, 8))
    assert query_days(None, None) == (None, None)


def _entries(*ats: datetime) -> pd.DataFrame:
    rows = [(at, "admin", "update", "user", 1, None, None, {"role": ["rep", "manager"]}) for at in ats]
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)


def test_the_view_shows_local_times_and_keeps_only_the_local_days_asked_for():
    # 23:30 UTC on 4 June is 07:30 on 5 June in Shanghai; 16:30 UTC on 5 June is already 6 June there.
    entries = _entries(datetime(2025, 6, 5, 16, 30), datetime(2025, 6, 4, 23, 30), datetime(2025, 6, 3, 12))
    view = audit_view(entries, zone=ZoneInfo("Asia/Shanghai"), since=date(2025, 6, 5), until=date(2025, 6, 5))
    assert view["at"].tolist() == ["2025-06-05 07:30:00"]
    assert view["changes"].tolist() == ["role: rep → manager"]
    assert view["customer_id"].tolist() == [""]
    assert view["entity_id"].tolist() == ["1"]


def test_the_view_without_dates_keeps_everything_and_handles_no_rows():
    assert len(audit_view(_entries(datetime(2025, 1, 1), datetime(2024, 1, 1)), zone=UTC)) == 2
    assert audit_view(_entries(), zone=UTC).empty


def test_known_actions_include_every_sign_in_event():
    assert {"login", "login_failed", "account_locked", "login_sso", "password_reset"} <= set(KNOWN_ACTIONS)


def test_the_use_cases_record_actions_only_through_the_enum():
    # audit.record takes an AuditAction (mypy enforces it); a string literal would slip past the page.
    literal = re.compile(r'action="(?!store_true"|append")\w+"')  # argparse's actions are no audit
    offenders = [
        str(path)
        for path in Path(funnel.__file__).parent.rglob("*.py")
        if literal.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    assert set(KNOWN_ACTIONS) == {action.value for action in AuditAction}


@pytest.mark.parametrize("action", list(AuditAction))
def test_every_audit_action_has_a_name_on_the_audit_page_in_both_languages(action):
    assert f"auditlog.action.{action.value}" in catalogue("en")
    assert f"auditlog.action.{action.value}" in catalogue("zh")


def test_local_times_convert_from_utc_and_leave_missing_times_empty():
    values = pd.Series([datetime(2025, 6, 4, 23, 30), None])
    assert local_times(values, ZoneInfo("Asia/Shanghai")).tolist() == ["2025-06-05 07:30:00", ""]
    assert local_times(pd.Series([None, None]), UTC).tolist() == ["", ""]

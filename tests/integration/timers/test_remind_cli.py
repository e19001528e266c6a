"""`python -m funnel remind`: the JSON contract, once-only reminders for the same --now, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from funnel.access.permissions import SYSTEM
from funnel.capture.leads import LeadInput, create_lead
from funnel.cli.main import main
from funnel.core.db import session_scope
from funnel.store.models import Notification, User
from funnel.timers.engine import RULE_NAMES

ROOT = Path(__file__).resolve().parents[3]
NOW = "2026-12-07T09:00:00+00:00"


def seed(engine: Engine) -> None:
    with session_scope(engine) as s:
        rep = User(username="rep", display_name="Rep", role="rep")
        s.add(rep)
        s.flush()
        for n, grade in enumerate(["A", "A", "B"]):
            lead = LeadInput(
                name=f"Lead {n}", email=f"cli{n}@example.com", owner_id=rep.id, grade=grade,
                created_at=datetime(2026, 12, 4, 10),
            )  # fmt: skip
            create_lead(s, lead, actor=SYSTEM)


def remind_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["remind", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_remind_twice_with_the_same_now_creates_each_reminder_once(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(engine)

    first = remind_json(capsys, "--now", NOW)
    second = remind_json(capsys, "--now", NOW)

    assert set(first) == {"now", "created", "total_created"}
    assert first["now"] == NOW
    assert first["created"] == {**dict.fromkeys(RULE_NAMES, 0), "first_contact_overdue": 3,
                                "first_contact_escalated": 3, "a_daily": 2}  # fmt: skip
    assert first["total_created"] == 8
    assert second == {"now": NOW, "created": dict.fromkeys(RULE_NAMES, 0), "total_created": 0}
    with session_scope(engine) as s:
        # 3 owner messages, 1 A list; the escalations found no manager to tell
        assert s.scalar(select(func.count()).select_from(Notification)) == 4


def test_now_in_another_zone_and_without_a_zone_is_read_as_an_instant(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert remind_json(capsys, "--now", "2026-12-07T17:00:00+08:00")["now"] == NOW
    assert remind_json(capsys, "--now", "2026-12-07T09:00:00")["now"] == NOW  # no offset: UTC
    assert remind_json(capsys)["total_created"] == 0  # the clock


def test_the_text_format_lists_each_rule(engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    seed(engine)
    assert main(["remind", "--now", NOW]) == 0
    out = capsys.readouterr().out
    assert "first_contact_overdue: 3" in out and "8 newly flagged." in out


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01T00:00", ""])
def test_a_bad_now_is_one_line_and_exit_status_2(
    engine: Engine, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    assert main(["remind", "--now", bad]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ISO-8601" in err and "Traceback" not in err


def test_remind_runs_as_a_command(engine: Engine) -> None:
    seed(engine)
    run = [sys.executable, "-m", "funnel", "remind", "--now", NOW, "--format", "json"]
    out = [
        json.loads(subprocess.run(run, cwd=ROOT, capture_output=True, text=True, check=True).stdout)
        for _ in "12"
    ]
    assert out[0]["total_created"] == 8 and out[1]["total_created"] == 0

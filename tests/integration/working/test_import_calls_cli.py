"""`python -m funnel import-calls`: matched calls logged once, unmatched rows printed, JSON on request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from funnel.access.permissions import SYSTEM
from funnel.capture.leads import LeadInput, create_lead
from funnel.cli.main import main
from funnel.core.db import session_scope
from funnel.store.models import Activity


def test_import_calls_logs_matched_calls_once_and_lists_the_rest(
    engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with session_scope(engine) as session:
        create_lead(session, LeadInput(name="A", phone="13812345678"), actor=SYSTEM)
    log = tmp_path / "calls.csv"
    log.write_text("time,number,direction,duration\n2026-11-30 10:00,138 1234 5678,out,90\n"
                   "2026-11-30 11:00,13900000000,in,10\n", encoding="utf-8")  # fmt: skip
    assert main(["import-calls", str(log), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["created"] == 1 and [u["row"] for u in report["unmatched"]] == [3]
    assert main(["import-calls", str(log)]) == 1
    assert "0 calls logged, 1 already known, 1 unmatched" in capsys.readouterr().out
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Activity)) == 1

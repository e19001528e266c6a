"""Backups while the app writes, and restoring one to an equal database."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from funnel.access.permissions import SYSTEM
from funnel.capture.leads import LeadInput, create_lead
from funnel.cli.main import main
from funnel.core.backup import BackupError, backup, holds_data, restore
from funnel.core.db import make_engine, session_scope, upgrade


def _contents(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, sorted: what "an equal database" means."""
    tables = sorted(t for t in inspect(engine).get_table_names() if t != "alembic_version")
    with engine.connect() as conn:
        return {t: sorted(map(tuple, conn.execute(text(f'SELECT * FROM "{t}"'))), key=repr) for t in tables}


def test_a_backup_taken_while_leads_are_saved_restores_to_an_equal_database(engine, tmp_path, db_url):
    stop = threading.Event()
    saved: list[int] = []

    def save_leads() -> None:
        n = 0
        while not stop.is_set() and n < 400:
            with session_scope(engine) as s:
                create_lead(s, LeadInput(name=f"L{n}", email=f"l{n}@x.cn"), actor=SYSTEM)
            saved.append(n)
            n += 1

    writer = threading.Thread(target=save_leads)
    writer.start()
    try:
        while len(saved) < 20:
            time.sleep(0.01)
        if engine.dialect.name == "postgresql" and shutil.which("pg_dump") is None:
            pytest.skip("pg_dump is not installed")
        path = tmp_path / "during.backup"
        backup(engine, path)
    finally:
        stop.set()
        writer.join(timeout=60)
    snapshot_count = len(saved)
    assert snapshot_count >= 20

    # The live database moved on; restoring the backup over it (forced) brings back the backup's state.
    with pytest.raises(BackupError, match="already holds users or customers"):
        restore(engine, path)
    before_more = _contents(engine)
    restore(engine, path, force=True)
    upgrade(engine)
    restored = _contents(engine)
    customers = len(restored["customer"])
    assert 20 <= customers <= len(before_more["customer"])
    # Consistent: every customer has its contact, stage event and audit row, nothing half-written.
    assert len(restored["contact"]) == customers
    assert len(restored["stage_event"]) == customers
    backup(engine, tmp_path / "again.backup")
    restore(engine, tmp_path / "again.backup", force=True)
    assert _contents(engine) == restored


def test_restore_into_an_empty_database_needs_no_force_and_the_cli_says_what_it_did(
    engine, tmp_path, capsys, monkeypatch
):
    if engine.dialect.name != "sqlite":
        pytest.skip("the CLI round trip runs on the SQLite file the test owns")
    with session_scope(engine) as s:
        create_lead(s, LeadInput(name="A", email="a@x.cn"), actor=SYSTEM)
    path = tmp_path / "a.backup"
    assert main(["backup", str(path)]) == 0
    assert main(["backup", str(path)]) == 2  # never overwritten by accident
    assert "exists" in capsys.readouterr().err

    empty_url = f"sqlite:///{tmp_path / 'empty.db'}"
    monkeypatch.setenv("CRM_DATABASE_URL", empty_url)
    from funnel.core.settings import get_settings

    get_settings.cache_clear()
    assert main(["restore", str(path)]) == 0
    other = make_engine(empty_url)
    assert holds_data(other)
    assert _contents(other) == _contents(engine)
    other.dispose()


def test_restoring_something_that_is_no_backup_is_refused(engine, tmp_path):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite file check")
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database")
    with pytest.raises(BackupError, match=r"not a SQLite database|not a Loudou"):
        restore(engine, junk)
    missing = Path(tmp_path / "missing.backup")
    with pytest.raises(BackupError, match="is not a file"):
        restore(engine, missing)

"""A database the app cannot use as configured: a mistyped SQLite path, a schema newer than the code, an
unreachable server, a read-only file. Each is a typed DatabaseUnavailable, one line in the CLI (exit 2)."""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from funnel.cli.main import main
from funnel.core import db
from funnel.core.db import (
    DatabaseMissing,
    DatabaseReadOnly,
    DatabaseTooNew,
    DatabaseUnavailable,
    DatabaseUnreachable,
    make_engine,
    session_scope,
    upgrade,
)
from funnel.core.i18n import LANGUAGES, catalogue
from funnel.core.settings import get_settings
from funnel.store.models import User

PASSWORD = "correct horse"


@pytest.fixture
def database_url(monkeypatch: pytest.MonkeyPatch):
    """Point CRM_DATABASE_URL (what the CLI opens) at a URL for one test."""

    def point_at(url: str) -> None:
        monkeypatch.setenv("CRM_DATABASE_URL", url)
        get_settings.cache_clear()

    yield point_at
    get_settings.cache_clear()


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_every_database_error_has_its_message_in_both_languages():
    kinds = [DatabaseUnavailable, *DatabaseUnavailable.__subclasses__()]

    assert {kind.key for kind in kinds} >= {"db.missing", "db.too_new", "db.unreachable", "db.read_only"}
    for lang in LANGUAGES:
        assert [kind.key for kind in kinds if kind.key not in catalogue(lang)] == []


# --- a missing SQLite file --------------------------------------------------------------------------


def test_a_missing_sqlite_file_outside_data_is_an_error_and_is_not_created(tmp_path, database_url, capsys):
    typo = tmp_path / "lodou.db"
    database_url(f"sqlite:///{typo}")

    with pytest.raises(DatabaseMissing):
        make_engine()
    assert main(["user", "list"]) == 2
    assert str(typo) in _one_line_error(capsys)
    assert not typo.exists()


def test_init_db_creates_a_new_sqlite_file_anywhere(tmp_path, database_url, capsys):
    new = tmp_path / "new" / "crm.db"
    database_url(f"sqlite:///{new}")

    assert main(["init-db"]) == 0
    assert new.exists()
    assert main(["user", "list"]) == 0


def test_a_missing_sqlite_file_under_data_is_still_created_on_first_run(tmp_path, monkeypatch):
    monkeypatch.setattr(db, "DATA_DIR", tmp_path / "data")
    default = tmp_path / "data" / "loudou.db"

    engine = make_engine(f"sqlite:///{default}")
    upgrade(engine)
    engine.dispose()

    assert default.exists()


# --- a schema newer than the code ------------------------------------------------------------------


def test_a_database_upgraded_by_a_newer_version_is_refused_in_one_line(engine: Engine, capsys):
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))

    with pytest.raises(DatabaseTooNew) as raised:
        upgrade(engine)
    assert raised.value.params["revision"] == "0099_from_the_future"
    assert main(["report"]) == 2
    assert "0099_from_the_future" in _one_line_error(capsys)


# --- an unreachable server -------------------------------------------------------------------------


def test_an_unreachable_postgresql_server_is_one_line_in_the_cli(database_url, capsys):
    url = "postgresql+psycopg://loudou:secret-pass@127.0.0.1:9/nothing?connect_timeout=5"
    database_url(url)

    with pytest.raises(DatabaseUnreachable):
        upgrade(make_engine(url))
    assert main(["user", "list"]) == 2
    line = _one_line_error(capsys)
    assert "127.0.0.1:9" in line and "secret-pass" not in line


# --- a read-only SQLite file ----------------------------------------------------------------------


@pytest.fixture(params=["uri_mode_ro", "file_mode_0444"])
def read_only_url(request, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated SQLite file with one user, in rollback-journal mode, opened read-only.

    Rollback-journal mode (not WAL) is the case that broke reading: switching it to WAL is a write.
    """
    path = tmp_path / "read-only.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with session_scope(engine) as session:
        session.add(User(username="li", display_name="Li", role="rep"))
    engine.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
    if request.param == "uri_mode_ro":
        return f"sqlite:///file:{path}?mode=ro&uri=true"
    if os.geteuid() == 0:
        pytest.skip("root writes to a file whatever its mode")
    path.chmod(0o444)
    tmp_path.chmod(0o555)  # no journal file can be created beside it either
    request.addfinalizer(lambda: tmp_path.chmod(0o755))
    return f"sqlite:///{path}"


def test_a_read_only_sqlite_file_can_be_read(read_only_url, database_url, capsys):
    database_url(read_only_url)

    assert main(["user", "list"]) == 0
    assert capsys.readouterr().out.startswith("li ")
    assert main(["init-db"]) == 0  # nothing to upgrade: reading the revision is enough


def test_writing_to_a_read_only_sqlite_file_is_one_line_in_the_cli(
    read_only_url, database_url, capsys, monkeypatch
):
    database_url(read_only_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n"))

    with pytest.raises(DatabaseReadOnly), session_scope(make_engine(read_only_url)) as session:
        session.add(User(username="wang", display_name="Wang", role="rep"))
    assert main(["user", "add", "wang", "--role", "rep", "--password-stdin"]) == 2
    assert "is read-only" in _one_line_error(capsys)

"""Backups of the whole database and restoring one, consistent while the app runs.

SQLite: the online backup API copies a consistent snapshot page by page while other connections keep
writing (WAL mode); restoring copies a backup into the configured file the same way. PostgreSQL:
`pg_dump --format=custom` and `pg_restore`, the tools made for it; when they are not installed the
error says exactly what to run.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect, text

# Tables whose rows mean "this database is in use": restoring over them needs --force.
_DATA_TABLES = ("user", "customer")


class BackupError(Exception):
    """A backup or restore cannot be done as asked; the message says why and what to do."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size_bytes: int
    backend: str


def _libpq_url(engine: Engine) -> str:
    """The engine's URL as pg_dump / pg_restore read it: no driver suffix, and no password (that goes
    in PGPASSWORD, so it does not show in the process list)."""
    url = engine.url.set(drivername="postgresql", password=None)
    return url.render_as_string(hide_password=False)


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def backup(engine: Engine, target: Path, *, force: bool = False) -> BackupResult:
    """Write a consistent copy of the database to `target` (refusing to overwrite a file unless forced)."""
    if target.exists() and not force:
        raise BackupError(f"{target} exists; choose another file or pass --force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    backend = engine.dialect.name
    if backend == "sqlite":
        source = sqlite3.connect(f"file:{_sqlite_path(engine)}?mode=ro", uri=True)
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        partial.replace(target)  # a backup file is either whole or absent
    elif backend == "postgresql":
        command = ["pg_dump", "--format=custom", "--no-owner", f"--file={target}", _libpq_url(engine)]
        _run(command, "pg_dump", engine)
    else:
        raise BackupError(f"backups of {backend} databases are not supported")
    return BackupResult(target, target.stat().st_size, backend)


def holds_data(engine: Engine) -> bool:
    """Whether the database has any user or customer (restoring over it would lose them)."""
    tables = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        for table in _DATA_TABLES:
            if table in tables and conn.execute(text(f'SELECT 1 FROM "{table}" LIMIT 1')).first():
                return True
    return False


def restore(engine: Engine, source: Path, *, force: bool = False) -> None:
    """Replace the database's contents with the backup `source`; refused over data unless forced."""
    if not source.is_file():
        raise BackupError(f"{source} is not a file")
    if holds_data(engine) and not force:
        raise BackupError(
            "the database already holds users or customers; restoring would replace them all. "
            "Back it up first, then pass --force"
        )
    backend = engine.dialect.name
    if backend == "sqlite":
        backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            tables = {
                row[0] for row in backup_db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if "alembic_version" not in tables:
                raise BackupError(f"{source} is not a Loudou SQLite backup (it has no schema version)")
            engine.dispose()  # no pooled connection may hold the file while it is replaced
            live = sqlite3.connect(_sqlite_path(engine))
            try:
                backup_db.backup(live)
            finally:
                live.close()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{source} is not a SQLite database ({exc})") from exc
        finally:
            backup_db.close()
    elif backend == "postgresql":
        engine.dispose()
        command = ["pg_restore", "--clean", "--if-exists", "--no-owner", f"--dbname={_libpq_url(engine)}"]
        _run([*command, str(source)], "pg_restore", engine)
    else:
        raise BackupError(f"restoring {backend} databases is not supported")


def _run(command: list[str], tool: str, engine: Engine) -> None:
    if shutil.which(tool) is None:
        shown = " ".join(part if "://" not in part else "'$DATABASE_URL'" for part in command)
        raise BackupError(
            f"{tool} is not installed here; install the PostgreSQL client tools (Debian: apt-get install "
            f"postgresql-client) or run on a machine that has them: {shown}"
        )
    env = {**os.environ, "PGPASSWORD": engine.url.password or ""}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise BackupError(f"{tool} failed: {detail[-1] if detail else f'exit status {done.returncode}'}")

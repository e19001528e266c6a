"""Engine, sessions and schema upgrades for SQLite (default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from funnel.core import events
from funnel.core.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str | None = None) -> Engine:
    """An engine for `url` (default: the configured one); SQLite gets WAL, foreign keys, a busy timeout.

    hide_parameters keeps bound values out of SQLAlchemy's error messages: pages log those messages,
    and the values of a failed user save include the password hash.
    """
    url = url or get_settings().database_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 5}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """The unit of work: one transaction, committed on success and rolled back on any error; the domain
    events it recorded are published after the commit (funnel.core.events), never after a rollback."""
    session = session_factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        events.take_pending(session)
        raise
    finally:
        session.close()
    events.publish(events.take_pending(session), engine)


def take_write_lock(session: Session) -> None:
    """On SQLite, start the session's transaction by taking the database's write lock (no-op elsewhere).

    SQLite has one writer: a check-then-write (is this contact new?) holds only if the check runs under
    the lock. The driver begins a transaction before a write statement, so savepoints nest inside it too.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0"))


# The key of the PostgreSQL advisory lock that serialises schema upgrades across app servers
# (any constant the application owns; this one is "loudou" in ASCII).
MIGRATION_LOCK_KEY = 0x6C6F75646F75


def _alembic_config(engine: Engine, connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _is_current(engine: Engine, connection: Connection) -> bool:
    head = ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()
    current = MigrationContext.configure(connection).get_current_revision()
    connection.rollback()  # the check leaves no transaction open: alembic and SQLite pragmas need none
    return current == head


def schema_is_current(engine: Engine) -> bool:
    with engine.connect() as conn:
        return _is_current(engine, conn)


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema to the latest migration (idempotent).

    On PostgreSQL the check and the upgrade run under an advisory lock, so several app servers
    starting at once upgrade once: the others wait, then find the schema current.
    """
    if schema_is_current(engine):
        return
    with engine.connect() as conn:
        locked = conn.dialect.name == "postgresql"
        if locked:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            conn.commit()  # a session-level lock: it outlives this transaction, until unlocked
        try:
            if not _is_current(engine, conn):
                command.upgrade(_alembic_config(engine, conn), "head")
        finally:
            if locked:
                conn.rollback()  # a failed migration leaves an aborted transaction; unlock outside it
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                conn.commit()


# Ids are 32-bit integers in the schema; a larger id (a hand-edited ?id=) names no row rather than
# failing on PostgreSQL with an out-of-range error.
MAX_ID = 2**31 - 1
_Row = TypeVar("_Row")


def get_by_id(session: Session, model: type[_Row], row_id: int) -> _Row | None:
    """The row of `model` with `row_id`, or None (also for an id no row can have)."""
    return session.get(model, row_id) if 1 <= row_id <= MAX_ID else None

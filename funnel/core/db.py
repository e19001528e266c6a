"""Engine, sessions and schema upgrades for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, create_engine, event, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from funnel.core import events
from funnel.core.settings import DATA_DIR, get_settings

_T = TypeVar("_T")
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class DatabaseUnavailable(Exception):
    """The database cannot serve the app as configured; no user of the app caused it or can fix it.

    Not a UserError: an operator fixes it (the URL, the server, the file, the version). `key` is a
    message key (funnel/core/locales) and `params` its values, so the CLI prints one line and the app
    can show a page; every subclass names its own key.
    """

    key = "db.unavailable"

    def __init__(self, **params: str):
        self.params = params
        super().__init__(f"{self.key} {params}")


class DatabaseMissing(DatabaseUnavailable):
    """A SQLite file that does not exist outside data/: most likely a mistyped path, so not created."""

    key = "db.missing"


class DatabaseTooNew(DatabaseUnavailable):
    """The schema is at a migration this code does not know: a newer version of Loudou upgraded it."""

    key = "db.too_new"


class DatabaseUnreachable(DatabaseUnavailable):
    """The server (or the file) cannot be opened: down, wrong host or port, refused credentials."""

    key = "db.unreachable"


class DatabaseReadOnly(DatabaseUnavailable):
    """A write was refused: a read-only SQLite file or connection, or a read-only PostgreSQL server."""

    key = "db.read_only"


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL opens, or None for an in-memory database."""
    database = url.database or ""
    if url.query.get("uri") == "true" and database.startswith("file:"):
        database = database.removeprefix("file:").split("?", 1)[0]
    if not database or database == ":memory:" or url.query.get("mode") == "memory":
        return None
    return Path(database)


def _opens_read_only(url: URL, path: Path | None) -> bool:
    """Whether SQLite will open this file read-only: asked for (mode=ro) or not writable by this process."""
    if url.query.get("mode") == "ro":
        return True
    return path is not None and path.exists() and not os.access(path, os.W_OK)


# How long a SQLite write waits for another's lock before "database is locked". Writes hold it for
# milliseconds, but with twenty sessions on two cores the thread that holds it waits its turn for the
# CPU: at a million customers two saves out of twenty gave up at 5 s while pages took minutes.
SQLITE_BUSY_TIMEOUT_SECONDS = 30
SQLITE_CACHE_KIB = 64 * 1024  # per connection, an upper bound: pages are allocated as they are read
SQLITE_MMAP_BYTES = 256 * 1024 * 1024
# A file larger than this is not memory-mapped, and its connections keep a smaller page cache.
SQLITE_MAPPED_FILE_LIMIT = 2 * SQLITE_MMAP_BYTES
SQLITE_LARGE_FILE_CACHE_KIB = 16 * 1024


def sqlite_read_settings(file_bytes: int) -> tuple[int, int]:
    """(page cache KiB, mmap bytes) per connection for a SQLite file of this size.

    The map pays while it covers most of the file: at 100,000 customers (about 270 MB) a dashboard
    took 0.27 s with it and 0.32 s without. Past that it covers a fraction, and reads go through the
    OS anyway. Every connection maps the file anew, and its mapped pages count in the process's
    resident memory. At a million customers (2.9 GB) the whole dashboard took 4.4 s without the map and
    4.9 s with it. The process peaked at 276 MB instead of 973 MB, and twenty sessions on forty pooled
    connections took the server to 9.8 GB resident.
    """
    if file_bytes > SQLITE_MAPPED_FILE_LIMIT:
        return SQLITE_LARGE_FILE_CACHE_KIB, 0
    return SQLITE_CACHE_KIB, SQLITE_MMAP_BYTES


def _sqlite_pragmas(read_only: bool, path: Path | None = None) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # Switching to WAL writes the file header: a read-only file or connection would refuse it and
        # with it every read. Such a database is read in whatever mode it is in.
        if not read_only:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Analytics read the whole customer table per figure: a 2 MB page cache (the default) re-reads
        # most pages from the OS on every query. A larger cache per pooled connection and memory-mapped
        # reads keep a 100,000-customer file (~270 MB) hot between reruns of the dashboard; a far larger
        # file is read through the OS (sqlite_read_settings).
        size = path.stat().st_size if path is not None and path.exists() else 0
        cache_kib, mmap_bytes = sqlite_read_settings(size)
        cursor.execute(f"PRAGMA cache_size=-{cache_kib}")
        cursor.execute(f"PRAGMA mmap_size={mmap_bytes}")
        cursor.close()

    return on_connect


def _may_create(path: Path) -> bool:
    """A missing SQLite file is created only under the project's data/ folder (the default database)."""
    return path.resolve().is_relative_to(DATA_DIR.resolve())


def make_engine(url: str | None = None, *, create: bool = False) -> Engine:
    """An engine for `url` (default: the configured one); SQLite gets WAL, foreign keys, a busy timeout.

    A SQLite file that does not exist is created only under data/ or when `create` is set (`init-db`):
    anywhere else a missing file is far more likely a mistyped path than a new install, and silently
    creating it would hand an empty database to whoever visits first (they become its admin).

    hide_parameters keeps bound values out of SQLAlchemy's error messages: pages log those messages,
    and the values of a failed user save include the password hash.
    """
    settings = get_settings()
    url = url or settings.database_url
    parsed = make_url(url)
    pool = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout_seconds,
    }
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_file(parsed)
        if path is not None and not path.exists():
            if not (create or _may_create(path)):
                raise DatabaseMissing(path=str(path))
            path.parent.mkdir(parents=True, exist_ok=True)
        # An in-memory database is one connection (SingletonThreadPool): no pool to size.
        sized = pool if path is not None else {}
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}, hide_parameters=True, **sized
        )
        event.listen(engine, "connect", _sqlite_pragmas(_opens_read_only(parsed, path), path))
        return engine
    # No JIT compilation: it pays off for queries that run for many seconds, not for the app's sub-second
    # ones over large tables, which it made 0.2-0.5 s slower each (JIT starts above a planner cost, not
    # a measured time). A URL that sets `options` itself keeps them.
    connect_args = {} if "options" in parsed.query else {"options": "-c jit=off"}
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, connect_args=connect_args, **pool)


def unavailable(exc: DBAPIError, engine: Engine) -> DatabaseUnavailable | None:
    """The DatabaseUnavailable that a driver error means, or None when it is something else."""
    message = str(exc.orig)
    if "readonly database" in message or getattr(exc.orig, "sqlstate", None) == "25006":
        return DatabaseReadOnly(url=_shown(engine.url))
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
    lost = exc.connection_invalidated or sqlstate.startswith("08")
    if isinstance(exc, OperationalError) and (lost or "unable to open database file" in message):
        reason = " ".join(message.split("\n", 1)[0].split())
        return DatabaseUnreachable(url=_shown(engine.url), reason=reason)
    return None


@contextmanager
def _translated(engine: Engine) -> Iterator[None]:
    """Raise a driver error that means "the database is unavailable" as that DatabaseUnavailable."""
    try:
        yield
    except DBAPIError as exc:
        translated = unavailable(exc, engine)
        if translated is None:
            raise
        raise translated from exc


def _connect(engine: Engine) -> Connection:
    """A connection, or DatabaseUnreachable with the driver's reason in one line."""
    try:
        return engine.connect()
    except OperationalError as exc:
        reason = " ".join(str(exc.orig).split("\n", 1)[0].split())
        raise DatabaseUnreachable(url=_shown(engine.url), reason=reason) from exc


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """The unit of work: one transaction, committed on success and rolled back on any error; the domain
    events it recorded are published after the commit (funnel.core.events), never after a rollback."""
    session = session_factory(engine)()
    try:
        with _translated(engine):
            yield session
            session.commit()
    except BaseException:
        session.rollback()
        events.take_pending(session)
        raise
    finally:
        session.close()
    events.publish(events.take_pending(session), engine)


# Reads at once: a page's independent queries (each its own connection and transaction). Two cores in
# CI and on a small server: more threads than this only queue; PostgreSQL runs each on its own backend,
# SQLite's driver releases the GIL while a statement runs.
READ_THREADS = 3


class ConcurrentReads:
    """Read-only jobs run on up to READ_THREADS threads, each in a session of its own; `submit` returns
    a Future, so a caller can submit more once an earlier result is in. Leaving the block waits for
    every job. An in-memory SQLite database is one per connection: there each job runs as it is
    submitted, one after another.

        with ConcurrentReads(engine) as reads:
            first = reads.submit(job)           # job(session) -> result
            then = reads.submit(lambda s: follow_up(s, first.result()))
    """

    def __init__(self, engine: Engine, threads: int | None = None):
        self.engine = engine
        serial = engine.dialect.name == "sqlite" and _sqlite_file(engine.url) is None
        workers = threads or READ_THREADS
        self._pool = None if serial or workers < 2 else ThreadPoolExecutor(workers, thread_name_prefix="read")

    def submit(self, job: Callable[[Session], _T]) -> Future[_T]:
        if self._pool is not None:
            return self._pool.submit(_read, self.engine, job)
        done: Future[_T] = Future()
        try:
            done.set_result(_read(self.engine, job))
        except BaseException as exc:  # handed to whoever asks for the result, as a pool would
            done.set_exception(exc)
        return done

    def __enter__(self) -> ConcurrentReads:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def _read(engine: Engine, job: Callable[[Session], _T]) -> _T:
    with session_scope(engine) as session:
        return job(session)


# A lookup's values per query: well under SQLite's and PostgreSQL's bound-parameter limits.
_IN_CHUNK = 500


def rows_where_in(session: Session, query: Any, column: Any, values: Sequence[object]) -> list[Any]:
    """Rows of `query` whose `column` is one of `values`, asked in chunks (one query per 500, not per row).

    On PostgreSQL each chunk is a join against `unnest` of one array parameter rather than `IN (...)`: since
    PostgreSQL 14 a pg_trgm GIN index answers equality too, and for a long IN list on phone, email or
    customer_no the planner picks it (a bitmap scan of posting lists that every number shares) over the
    btree: 1 s per 500 phones at 20,000 contacts, where the join is an index lookup per value. One array
    parameter, not a VALUES list of 500: SQLAlchemy compiled a VALUES list afresh for every chunk, 25 ms
    each, which was half of a 100,000-row re-import. SQLite has no such index (its "contains" search is a
    separate FTS table): IN it is."""
    rows: list[Any] = []
    distinct = list(dict.fromkeys(values))
    on_postgres = session.get_bind().dialect.name == "postgresql"
    if on_postgres and distinct:
        # Planned for the array it is given (500 values), not as a generic plan for "some array" (psycopg
        # prepares a statement run five times): the generic plan guesses 10 values and takes the trigram
        # index per value, 5 ms each, while the table's statistics still describe it small.
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    for start in range(0, len(distinct), _IN_CHUNK):
        chunk = distinct[start : start + _IN_CHUNK]
        if on_postgres:
            array = sa.bindparam("wanted", chunk, type_=postgresql.ARRAY(column.type))
            wanted = sa.func.unnest(array).table_valued("wanted").alias("wanted")
            rows += session.execute(query.join(wanted, column == wanted.c.wanted))
        else:
            rows += session.execute(query.where(column.in_(chunk)))
    return rows


def take_write_lock(session: Session) -> None:
    """On SQLite, start the session's transaction by taking the database's write lock (no-op elsewhere).

    SQLite has one writer: a check-then-write (is this contact new? is this the version I loaded?) holds
    only if the check runs under the lock. And a transaction that read first and writes second fails at
    once with "database is locked" when another connection wrote in between (WAL's busy snapshot: no
    busy timeout helps), so a use case that reads then writes takes the lock first. The driver begins a
    transaction before a write statement, so savepoints nest inside it too.
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
    """Whether the schema is at the latest migration; DatabaseTooNew when it is past any this code knows."""
    script = ScriptDirectory.from_config(_alembic_config(engine))
    current = MigrationContext.configure(connection).get_current_revision()
    connection.rollback()  # the check leaves no transaction open: alembic and SQLite pragmas need none
    if current is not None and current not in {revision.revision for revision in script.walk_revisions()}:
        # Upgrading would fail deep inside alembic, and running on would read a schema we do not know.
        raise DatabaseTooNew(revision=current, head=str(script.get_current_head()))
    return current == script.get_current_head()


def schema_is_current(engine: Engine) -> bool:
    with _connect(engine) as conn, _translated(engine):
        return _is_current(engine, conn)


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema to the latest migration (idempotent).

    On PostgreSQL the check and the upgrade run under an advisory lock, so several app servers
    starting at once upgrade once: the others wait, then find the schema current.
    """
    if schema_is_current(engine):
        return
    with _connect(engine) as conn, _translated(engine):
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

"""Bulk inserts (the demo loader, new leads from an import's batch or a form): COPY on PostgreSQL,
executemany on the raw connection on SQLite.

A Core insert of a list of dicts spends most of its time in SQLAlchemy's per-row parameter handling; at a
million demo leads (about 8 million rows) that was minutes, and it was a third of a 100,000-row import
(issue #12). Here each table's column types turn values into what the driver stores once per value, and
the driver gets plain tuples. The rows go into the caller's transaction, so a failed load leaves nothing
behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Column, Connection, Engine, Table
from sqlalchemy.dialects.sqlite import DATE as SQLITE_DATE
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.types import JSON

Row = dict[str, object]
Convert = Callable[[Any], Any] | None
# SQLite page cache while loading (KiB, negative per SQLite's convention): the indexes of a million-lead
# load stay in memory instead of being re-read, within the 500 MB the load may use.
SQLITE_LOAD_CACHE_KIB = 96 * 1024


class BulkLoader:
    """Inserts lists of row dicts (every row of a table naming the same columns) into one connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect
        self.postgres = self.dialect.name == "postgresql"
        self._plans: dict[tuple[str, tuple[str, ...]], tuple[str, list[Convert], tuple[Any, ...]]] = {}

    def insert(self, table: Table, rows: Sequence[Row]) -> None:
        if not rows:
            return
        columns = tuple(rows[0])
        statement, converters, constants = self._plan(table, columns)
        # The raw DBAPI connection of the caller's transaction (SQLAlchemy began it).
        raw: Any = self.connection.connection.driver_connection
        values_of: Any = itemgetter(*columns)
        to_convert = [(i, convert) for i, convert in enumerate(converters) if convert is not None]
        tuples: Iterable[tuple[Any, ...]]
        if to_convert or len(columns) == 1 or constants:

            def values(row: Row) -> tuple[Any, ...]:
                found = [row[columns[0]]] if len(columns) == 1 else list(values_of(row))
                for i, convert in to_convert:
                    if found[i] is not None:
                        found[i] = convert(found[i])
                return (*found, *constants)

            tuples = map(values, rows)
        else:
            tuples = map(values_of, rows)
        if self.postgres:
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                for row_values in tuples:
                    copy.write_row(row_values)
        else:
            cursor = raw.cursor()
            try:
                cursor.executemany(statement, tuples)
            finally:
                cursor.close()

    def _plan(self, table: Table, columns: tuple[str, ...]) -> tuple[str, list[Convert], tuple[Any, ...]]:
        """The statement for these columns, a converter per column, and the values of omitted defaults."""
        key = (table.name, columns)
        plan = self._plans.get(key)
        if plan is None:
            missing = [c for c in table.columns if c.name not in columns and c.default is not None]
            computed = [c.name for c in missing if not getattr(c.default, "is_scalar", False)]
            if computed:
                # A raw insert skips SQLAlchemy's Python-side defaults: the rows must name these.
                raise ValueError(f"rows of {table.name} lack columns with computed defaults: {computed}")
            constants = tuple(self._bound(c, getattr(c.default, "arg", None)) for c in missing)
            names = (*columns, *(c.name for c in missing))
            converters = [self._converter(table.c[name]) for name in columns]
            preparer = self.dialect.identifier_preparer
            target = f"{preparer.format_table(table)} ({', '.join(preparer.quote(name) for name in names)})"
            if self.postgres:
                statement = f"COPY {target} FROM STDIN"
            else:
                statement = f"INSERT INTO {target} VALUES ({', '.join('?' * len(names))})"
            plan = self._plans[key] = (statement, converters, constants)
        return plan

    def _bound(self, column: Column[Any], value: Any) -> Any:
        convert = self._converter(column)
        return value if value is None or convert is None else convert(value)

    def _converter(self, column: Column[Any]) -> Convert:
        column_type = column.type
        if self.postgres:
            # COPY takes the text psycopg makes of plain Python values; JSON goes as its text.
            if isinstance(column_type, JSON):
                return lambda value: json.dumps(value, ensure_ascii=False)
            return None
        impl = column_type.dialect_impl(self.dialect)
        if isinstance(impl, SQLITE_DATETIME) and impl._storage_format == SQLITE_DATETIME._storage_format:
            # The text SQLAlchemy stores ("2026-06-30 09:15:00.000000"), made by str() in C.
            return _sqlite_datetime
        if isinstance(impl, SQLITE_DATE) and impl._storage_format == SQLITE_DATE._storage_format:
            return str
        return impl.bind_processor(self.dialect)


def _sqlite_datetime(value: datetime) -> str:
    text = str(value)
    return text if value.microsecond else f"{text}.000000"


@contextmanager
def bulk_load_settings(connection: Connection) -> Iterator[None]:
    """SQLite settings for the length of a bulk load, restored after; nothing to do on PostgreSQL."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw: Any = connection.connection.driver_connection
    (cache_size,) = raw.execute("PRAGMA cache_size").fetchone()
    (mmap_size,) = raw.execute("PRAGMA mmap_size").fetchone()
    raw.execute(f"PRAGMA cache_size={-SQLITE_LOAD_CACHE_KIB}")
    # Pages read through the memory map count as the process's resident memory: rebuilding the indexes
    # of a million-lead load reads the whole file, through the map up to its 256 MB on top of the cache.
    raw.execute("PRAGMA mmap_size=0")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA cache_size={cache_size}")
        raw.execute(f"PRAGMA mmap_size={mmap_size}")


@contextmanager
def deferred_indexes(connection: Connection, tables: Sequence[Table]) -> Iterator[None]:
    """Drop the tables' secondary indexes for a load into empty tables and build them again after it.

    Building an index once over the loaded rows sorts them; keeping ~30 indexes as each row arrives is a
    random write per index and row, most of a million-lead demo load. Indexes behind a primary key or a
    unique constraint stay (they check the rows as they arrive), and so do SQLite's search triggers. The
    drop and the rebuild are in the caller's transaction (DDL is transactional on both backends): a load
    that fails leaves the indexes as they were.
    """
    names = [table.name for table in tables]
    if connection.dialect.name == "sqlite":
        raw: Any = connection.connection.driver_connection
        if not raw.in_transaction:
            # The driver opens a transaction only before a data change; a DROP INDEX before any would
            # commit on its own, and a failed load would leave the table without it.
            raw.execute("BEGIN")
        marks = ", ".join("?" * len(names))
        found = connection.exec_driver_sql(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({marks})",
            tuple(names),
        ).all()
    else:
        found = connection.exec_driver_sql(
            "SELECT ci.relname, pg_get_indexdef(ci.oid) FROM pg_index x "
            "JOIN pg_class ci ON ci.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE n.nspname = current_schema() AND t.relname = ANY(%(tables)s) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
            {"tables": names},
        ).all()
    preparer = connection.dialect.identifier_preparer
    for name, _ in found:
        connection.exec_driver_sql(f"DROP INDEX {preparer.quote(name)}")
    yield
    if connection.dialect.name == "postgresql":
        # Room to sort a million customers' keys in memory rather than in temporary files (the default is
        # 64 MB); the server's memory, for this transaction only.
        connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
    for _, ddl in found:
        connection.exec_driver_sql(ddl)


def refresh_statistics(connection: Connection, tables: Sequence[Table]) -> None:
    """Table statistics for the planner after a bulk load, in the caller's transaction.

    SQLite keeps none until ANALYZE runs, and without them picks plans for a million-row table as if it
    were small: the leads list's first page took 3.8 s instead of 44 ms. A sampled ANALYZE
    (analysis_limit) takes about 2 s at a million customers. PostgreSQL's autovacuum would get there, a
    minute or more after the load.
    """
    preparer = connection.dialect.identifier_preparer
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA analysis_limit = 1000")
        # Read through the page cache, not the memory map: ANALYZE visits every index, and each mapped page
        # it touched stayed resident, 115 MB at the end of a 100,000-row import (315 MB -> 430 MB).
        mapped = connection.exec_driver_sql("PRAGMA mmap_size").scalar()
        connection.exec_driver_sql("PRAGMA mmap_size = 0")
        try:
            connection.exec_driver_sql("ANALYZE")
        finally:
            connection.exec_driver_sql(f"PRAGMA mmap_size = {int(mapped or 0)}")
    else:
        names = ", ".join(preparer.format_table(table) for table in tables)
        connection.exec_driver_sql(f"ANALYZE {names}")


# How far SQLite's recorded customer count may drift from the real one before statistics are redone.
STALE_STATISTICS_FACTOR = 2


UNMEASURED_INDEXES = (
    "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'customer' "
    "AND name NOT IN (SELECT idx FROM sqlite_stat1 WHERE tbl = 'customer' AND idx IS NOT NULL)"
)


def refresh_stale_statistics(engine: Engine) -> bool:
    """On SQLite, ANALYZE when the customer table has no statistics yet, has since doubled (or halved) in
    size, or has an index without statistics (one a migration added); True when it ran. A no-op on
    PostgreSQL, whose autovacuum keeps its statistics.

    A database that grows by use, not by `demo`, had none at all: every plan was the small-table one.
    The `remind` job (every few minutes) and each import call this; the check is a count over the
    smallest index and sqlite_stat1's rows, the ANALYZE about 2 s at a million customers.
    """
    if engine.dialect.name != "sqlite":
        return False
    with engine.begin() as connection:
        has_stats = connection.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
        ).first()
        recorded = None
        if has_stats:
            # Each index's row gives its row count first; a partial index's is smaller, so the largest.
            stats = connection.exec_driver_sql(
                "SELECT stat FROM sqlite_stat1 WHERE tbl = 'customer'"
            ).scalars()
            counts = [int(str(stat).split()[0]) for stat in stats if stat]
            recorded = max(counts) if counts else None
        rows = int(connection.exec_driver_sql("SELECT count(*) FROM customer").scalar() or 0)
        if recorded is None:
            stale = rows > 0
        else:
            stale = rows > recorded * STALE_STATISTICS_FACTOR or rows * STALE_STATISTICS_FACTOR < recorded
            # An index a migration added since: without its row SQLite guesses its selectivity, and at a
            # million customers the loss details took 4.1 s instead of 0.2 s through the new lost index.
            stale = stale or (rows > 0 and bool(connection.exec_driver_sql(UNMEASURED_INDEXES).scalar()))
        if stale:
            refresh_statistics(connection, [])
        return stale

"""Time the funnel by channel several ways on the same demo data, and check that they all agree.

    python -m benchmarks.funnel_bench [--sizes 10000,100000] [--postgres URL] [--runs 5]

For each size, demo leads go into a fresh SQLite file: funnel.demo.generate.generate_demo for up to 100,000
leads; larger sizes are copies of that 100,000-lead demo made in SQL (generate_demo itself cannot get
much past ~140,000 leads, see replicate). The same funnel — reached per stage, open / won / lost, won
amount, per channel — is then computed by:

  loudou      analytics.report.build_report(session, by="channel"): SQL roll-ups, pandas on the small result
  rollup      only its stage_rollup(by="channel") + funnel_segments (what this funnel strictly needs)
  one-sql     one hand-written aggregate query (the DuckDB one below) run by the database itself
  pandas      every row of customer, stage_event, contract and opportunity read with pd.read_sql,
              then the funnel computed in pandas
  duckdb      DuckDB attaching the SQLite file (sqlite_scanner) and running one aggregate query
  duckdb-mem  the same query on DuckDB's own copy of the needed columns (loading it is not timed)
  loudou+ix, rollup+ix
              the first two again after adding COVERING_INDEXES to the scratch database (an
              experiment; migration 0003 adopted them, so on a current schema this changes nothing;
              --no-index-experiment skips it)

Every method runs in its own spawned process (so peak RSS is per method): once to warm up, then
`--runs` times; the median is reported. Every method's result must equal Loudou's (reached per stage
and the counts exactly, amounts to the cent), SQLite's must equal PostgreSQL's, and a replicated size
must be its base multiplied, or the benchmark stops with an AssertionError. `--postgres URL` repeats
the SQL methods on PostgreSQL, in a private schema the benchmark creates and drops.

DuckDB's sqlite extension is normally downloaded at run time; here it is loaded from the PyPI package
duckdb-extension-sqlite-scanner (see benchmarks/requirements.txt). Without it the `duckdb` row is
skipped and `duckdb-mem` loads its copy through pandas instead.
"""

from __future__ import annotations

import argparse
import functools
import importlib.resources
import math
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Engine, create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM
from funnel.analytics.funnel_math import FunnelSegment, funnel_segments
from funnel.analytics.report import build_report
from funnel.analytics.rollups import loss_details, stage_rollup
from funnel.core.db import make_engine, upgrade
from funnel.demo.generate import demo_tables, generate_demo
from funnel.pipeline.stages import LOST, WON, get_pipeline
from funnel.store.models import Base

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
# Larger sizes are copies of a BASE_LEADS demo: generate_demo hangs past ~140,000 leads (see replicate).
BASE_LEADS = 100_000
UNIQUE_TEXT_COLUMNS = ("customer_no", "external_id")
SEED = 42
ANCHOR = date(2026, 11, 1)  # fixed, so the same size gives the same rows on any day
SOURCE_TABLES = ("customer", "stage_event", "contract", "opportunity")
DUCKDB_METHODS = ("duckdb", "duckdb-mem")
# The index experiment: these methods again after adding COVERING_INDEXES to the scratch database.
INDEXED = "+ix"
INDEXED_METHODS = ("loudou", "rollup")
COVERING_INDEXES = {
    "bench_ix_stage_event_customer_stage": "stage_event (customer_id, to_stage)",
    "bench_ix_contract_customer_amount": "contract (customer_id, amount)",
    "bench_ix_opportunity_customer_amount": "opportunity (customer_id, amount)",
}


@dataclass(frozen=True)
class ChannelFunnel:
    """The funnel of one channel: what every method must agree on."""

    total: int
    open: int
    won: int
    lost: int
    won_amount: float
    reached: tuple[int, ...]  # per stage of pipeline.funnel_keys, ending with won


Funnel = dict[str | None, ChannelFunnel]


@dataclass(frozen=True)
class Measurement:
    method: str
    seconds: list[float]
    rows_to_python: int
    peak_rss_mb: float  # the process's peak RSS during the timed runs, above its RSS before them
    py_heap_mb: float  # tracemalloc peak of one more run: Python objects, numpy and pandas buffers
    funnel: Funnel
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass
class SizeResult:
    backend: str
    leads: int
    generate_seconds: float
    source_rows: dict[str, int]
    measurements: list[Measurement] = field(default_factory=list)


# --- the funnel, four ways -------------------------------------------------------------------------


def _stages() -> list[str]:
    return get_pipeline().funnel_keys


def _from_segments(segments: Sequence[FunnelSegment], stages: Sequence[str]) -> Funnel:
    return {
        s.value: ChannelFunnel(
            s.total, s.open, s.won, s.lost, s.won_amount, tuple(s.reached[k] for k in stages)
        )
        for s in segments
    }


def loudou(engine: Engine) -> tuple[Funnel, int]:
    """What the dashboard does: build_report, SQL roll-ups plus pure pandas on the small result."""
    stages = _stages()
    with Session(engine) as session:
        report = build_report(session, actor=SYSTEM, by="channel")
    return _from_segments(report.segments, stages), -1  # rows counted once, untimed: _loudou_rows


def _loudou_rows(engine: Engine) -> int:
    """Rows build_report fetches: two stage roll-ups and two loss-detail queries."""
    with Session(engine) as session:
        frames = [
            stage_rollup(session),
            stage_rollup(session, by="channel"),
            loss_details(session),
            loss_details(session, by="channel"),
        ]
    return sum(len(frame) for frame in frames)


def rollup(engine: Engine) -> tuple[Funnel, int]:
    """Only the part of build_report this funnel needs: the channel roll-up, folded in pandas."""
    stages = _stages()
    with Session(engine) as session:
        frame = stage_rollup(session, by="channel")
    return _from_segments(funnel_segments(frame, stages), stages), len(frame)


def funnel_sql(stages: Sequence[str], prefix: str = "") -> str:
    """One aggregate query for the whole funnel by channel; portable across SQLite, PostgreSQL, DuckDB.

    The semantics of analytics.rollups.stage_rollup: furthest rank = max rank of the stage events (won is
    the last rank, lost has none), else the current stage's, and every won customer has the last rank;
    a customer's amount = its signed contracts, else its opportunities, else 0.
    """
    ranks = " ".join(f"WHEN '{key}' THEN {rank}" for rank, key in enumerate(stages))
    reached = ",\n       ".join(
        f"SUM(CASE WHEN furthest >= {rank} THEN 1 ELSE 0 END) AS reached_{rank}"
        for rank in range(len(stages))
    )
    return f"""
WITH events AS (
  SELECT customer_id, MAX(CASE to_stage {ranks} END) AS stage_rank
  FROM {prefix}stage_event GROUP BY customer_id
), signed AS (
  SELECT customer_id, SUM(amount) AS amount FROM {prefix}contract GROUP BY customer_id
), expected AS (
  SELECT customer_id, SUM(amount) AS amount FROM {prefix}opportunity GROUP BY customer_id
), customers AS (
  SELECT c.channel, c.status,
         CASE WHEN c.status = '{WON}' THEN {len(stages) - 1}
              ELSE COALESCE(e.stage_rank, CASE c.stage {ranks} ELSE 0 END) END AS furthest,
         CASE WHEN c.status = '{WON}' THEN COALESCE(s.amount, x.amount, 0) ELSE 0 END AS won_amount
  FROM {prefix}customer c
  LEFT JOIN events e ON e.customer_id = c.id
  LEFT JOIN signed s ON s.customer_id = c.id
  LEFT JOIN expected x ON x.customer_id = c.id
)
SELECT channel, COUNT(*) AS n_total,
       SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END) AS n_open,
       SUM(CASE WHEN status = '{WON}' THEN 1 ELSE 0 END) AS n_won,
       SUM(CASE WHEN status = '{LOST}' THEN 1 ELSE 0 END) AS n_lost,
       SUM(won_amount) AS won_amount,
       {reached}
FROM customers GROUP BY channel
"""


def _from_rows(rows: Sequence[Sequence[Any]]) -> Funnel:
    return {
        row[0]: ChannelFunnel(
            int(row[1]),
            int(row[2]),
            int(row[3]),
            int(row[4]),
            float(row[5] or 0),
            tuple(int(r) for r in row[6:]),
        )
        for row in rows
    }


def one_sql(engine: Engine) -> tuple[Funnel, int]:
    """The DuckDB query, run by the database itself (SQLite or PostgreSQL)."""
    with engine.connect() as conn:
        rows = conn.execute(text(funnel_sql(_stages()))).all()
    return _from_rows(rows), len(rows)


def plain_pandas(engine: Engine) -> tuple[Funnel, int]:
    """The way the architecture rules out: read every row, then compute in pandas."""
    stages = _stages()
    with engine.connect() as conn:
        frames = {name: pd.read_sql(text(f"SELECT * FROM {name}"), conn) for name in SOURCE_TABLES}
    customers, events = frames["customer"], frames["stage_event"]
    ranks = {key: rank for rank, key in enumerate(stages)}
    furthest_event = events["to_stage"].map(ranks).groupby(events["customer_id"]).max()
    furthest = customers["id"].map(furthest_event).fillna(customers["stage"].map(ranks).fillna(0))
    won = customers["status"] == WON
    furthest = furthest.where(~won, len(stages) - 1)

    def amount_by_customer(table: str) -> pd.Series:
        frame = frames[table]
        return customers["id"].map(frame["amount"].astype("float64").groupby(frame["customer_id"]).sum())

    amount = amount_by_customer("contract").fillna(amount_by_customer("opportunity")).fillna(0.0)
    facts = pd.DataFrame(
        {
            "channel": customers["channel"].astype("object"),
            "open": customers["status"] == "open",
            "won": won,
            "lost": customers["status"] == LOST,
            "won_amount": amount.where(won, 0.0),
        }
        | {f"reached_{rank}": furthest >= rank for rank in range(len(stages))}
    )
    facts["total"] = 1
    out: Funnel = {}
    for channel, row in facts.groupby("channel", dropna=False).sum().iterrows():
        key = None if pd.isna(channel) else str(channel)
        out[key] = ChannelFunnel(
            int(row["total"]),
            int(row["open"]),
            int(row["won"]),
            int(row["lost"]),
            float(row["won_amount"]),
            tuple(int(row[f"reached_{rank}"]) for rank in range(len(stages))),
        )
    return out, sum(len(frame) for frame in frames.values())


ENGINE_METHODS: dict[str, Callable[[Engine], tuple[Funnel, int]]] = {
    "loudou": loudou,
    "rollup": rollup,
    "one-sql": one_sql,
    "pandas": plain_pandas,
}


# --- DuckDB ----------------------------------------------------------------------------------------


def _load_sqlite_scanner(con: Any) -> str | None:
    """Load DuckDB's sqlite extension; None when it loaded, else why not."""
    import duckdb

    try:
        con.execute("LOAD sqlite_scanner")  # already installed in ~/.duckdb
        return None
    except duckdb.Error:
        pass
    try:
        import duckdb_extension_sqlite_scanner as packaged
    except ImportError:
        return "no sqlite extension: pip install -r benchmarks/requirements.txt"
    binary = (
        importlib.resources.files(packaged)
        / "extensions"
        / f"v{duckdb.__version__}"
        / "sqlite_scanner.duckdb_extension"
    )
    try:
        con.execute(f"LOAD '{binary}'")
    except duckdb.Error as exc:  # e.g. the package was built for another DuckDB version
        return f"sqlite extension did not load ({exc})"
    return None


def _duckdb_columns() -> dict[str, str]:
    return {
        "customer": "id, channel, status, stage",
        "stage_event": "customer_id, to_stage",
        "contract": "customer_id, amount",
        "opportunity": "customer_id, amount",
    }


def duckdb_scan(sqlite_path: str) -> Callable[[], tuple[Funnel, int]]:
    import duckdb

    con = duckdb.connect()
    why_not = _load_sqlite_scanner(con)
    if why_not:
        raise RuntimeError(why_not)
    query = funnel_sql(_stages(), prefix="crm.")

    def run() -> tuple[Funnel, int]:
        con.execute(f"ATTACH '{sqlite_path}' AS crm (TYPE sqlite, READ_ONLY)")
        try:
            rows = con.execute(query).fetchall()
        finally:
            con.execute("DETACH crm")
        return _from_rows(rows), len(rows)

    return run


def duckdb_copy(sqlite_path: str, engine: Engine) -> tuple[Callable[[], tuple[Funnel, int]], str]:
    """The query on DuckDB's own tables, loaded once (untimed) from the SQLite file."""
    import duckdb

    con = duckdb.connect()
    why_not = _load_sqlite_scanner(con)
    if why_not is None:
        con.execute(f"ATTACH '{sqlite_path}' AS crm (TYPE sqlite, READ_ONLY)")
        for table, columns in _duckdb_columns().items():
            con.execute(f"CREATE TABLE {table} AS SELECT {columns} FROM crm.{table}")
        con.execute("DETACH crm")
        note = "loaded via sqlite_scanner, untimed"
    else:
        with engine.connect() as conn:
            for table, columns in _duckdb_columns().items():
                con.register("frame", pd.read_sql(text(f"SELECT {columns} FROM {table}"), conn))
                con.execute(f"CREATE TABLE {table} AS SELECT * FROM frame")
                con.unregister("frame")
        note = "loaded via pandas, untimed"
    query = funnel_sql(_stages())

    def run() -> tuple[Funnel, int]:
        rows = con.execute(query).fetchall()
        return _from_rows(rows), len(rows)

    return run, note


# --- running one method in its own process -----------------------------------------------------------


def _reset_peak_rss() -> float:
    """Reset the process's peak RSS where Linux allows it; the RSS (MB) to count the peak from."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return _peak_rss_mb()


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(method: str, url: str, sqlite_path: str | None, runs: int) -> Measurement:
    """Run one method once to warm up, `runs` times timed, then once more under tracemalloc."""
    engine = make_engine(url)
    note = ""
    fn: Callable[[], tuple[Funnel, int]]
    if method.removesuffix(INDEXED) in ENGINE_METHODS:
        fn = functools.partial(ENGINE_METHODS[method.removesuffix(INDEXED)], engine)
    elif method == "duckdb":
        assert sqlite_path
        fn = duckdb_scan(sqlite_path)
    elif method == "duckdb-mem":
        assert sqlite_path
        fn, note = duckdb_copy(sqlite_path, engine)
    else:
        raise ValueError(method)
    fn()  # warm-up, untimed: imports, compiled-statement caches, the OS page cache
    baseline = _reset_peak_rss()
    seconds: list[float] = []
    funnel: Funnel = {}
    rows = 0
    for _ in range(runs):
        started = time.perf_counter()
        funnel, rows = fn()
        seconds.append(time.perf_counter() - started)
    peak = _peak_rss_mb() - baseline
    tracemalloc.start()
    fn()
    py_heap = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    if method.removesuffix(INDEXED) == "loudou":
        rows = _loudou_rows(engine)
    engine.dispose()
    return Measurement(method, seconds, rows, peak, py_heap, funnel, note)


def measure_isolated(method: str, url: str, sqlite_path: str | None, runs: int) -> Measurement:
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        return pool.submit(measure, method, url, sqlite_path, runs).result()


# --- data and checks -------------------------------------------------------------------------------


def load_demo(engine: Engine, leads: int) -> float:
    """`leads` demo leads; above BASE_LEADS, copies of a BASE_LEADS demo (see replicate). Seconds taken."""
    started = time.perf_counter()
    upgrade(engine)
    base = min(leads, BASE_LEADS)
    if leads % base:
        raise SystemExit(f"sizes above {BASE_LEADS:,} must be multiples of it, got {leads:,}")
    generate_demo(engine, leads=base, seed=SEED, anchor=ANCHOR, actor=SYSTEM)
    replicate(engine, leads // base)
    return time.perf_counter() - started


def replicate(engine: Engine, copies: int, extra: Sequence[str] = ()) -> None:
    """Make `copies` of every demo row in SQL, ids (and references to them) shifted, numbers suffixed.

    generate_demo cannot go much past ~140,000 leads in one database: the Chinese e-mails it draws come
    from a pool of ~26,000 that Faker can make, and a lead's e-mail must be new, so it loops forever
    once the pool is used up (funnel/demo_people.py, People._chinese). Copies keep every customer's
    history whole, so each copy's funnel is the base funnel exactly (checked: check_scaled).
    """
    tables = [table for table in demo_tables() if table.name != "user"]  # users are shared
    # e.g. customer_tag (no id of its own), unless the demo fills it already (then it is copied once)
    tables += [Base.metadata.tables[name] for name in extra if name not in {t.name for t in tables}]
    with engine.begin() as conn:
        top = {
            t.name: int(conn.execute(select(func.max(t.c.id))).scalar_one() or 0)
            for t in tables
            if "id" in t.c
        }
        for copy in range(1, copies):
            for table in tables:
                columns: list[ColumnElement[Any]] = []
                for column in table.columns:
                    # References to rows that are not copied (users, list items, documents) stay as they are.
                    targets = {fk.column.table.name for fk in column.foreign_keys} & set(top)
                    if column.name == "id":
                        columns.append(column + copy * top[table.name])
                    elif targets:
                        columns.append(column + copy * top[targets.pop()])
                    elif column.name in UNIQUE_TEXT_COLUMNS:
                        columns.append(column + f"-{copy}")  # NULL stays NULL
                    else:
                        columns.append(column)
                original = (
                    table.c.id <= top[table.name]
                    if "id" in table.c
                    else table.c.customer_id <= top["customer"]
                )
                rows = select(*columns).where(original)
                conn.execute(insert(table).from_select([c.name for c in table.columns], rows))


def source_rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: int(conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()) for t in SOURCE_TABLES}


def check_same(expected: Funnel, got: Funnel, method: str) -> None:
    """Stop the benchmark if a method disagrees with Loudou's report."""
    if set(expected) != set(got):
        raise AssertionError(f"{method}: channels {sorted(map(str, got))} != {sorted(map(str, expected))}")
    for channel, want in expected.items():
        have = got[channel]
        assert have.reached == want.reached, f"{method} {channel}: reached {have.reached} != {want.reached}"
        counts = (have.total, have.open, have.won, have.lost)
        assert counts == (want.total, want.open, want.won, want.lost), f"{method} {channel}: {counts}"
        assert math.isclose(have.won_amount, want.won_amount, abs_tol=0.005), (
            f"{method} {channel}: won amount {have.won_amount} != {want.won_amount}"
        )


def add_covering_indexes(url: str) -> None:
    """The experiment: indexes that let stage_rollup's correlated subqueries read the index alone."""
    engine = make_engine(url)
    with engine.begin() as conn:
        for name, ddl in COVERING_INDEXES.items():
            conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {ddl}"))
    settle(engine)
    engine.dispose()


def settle(engine: Engine) -> None:
    """On PostgreSQL, VACUUM ANALYZE the demo tables: what autovacuum soon does after a bulk load.

    Without it, timings depend on whether autovacuum happens to be running, and index-only scans
    (which need the visibility map) are not possible. SQLite is left as the app leaves it.
    """
    if engine.dialect.name != "postgresql":
        return
    names = ", ".join(table.name for table in demo_tables() if table.name != "user")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM ANALYZE {names}"))


def run_size(
    backend: str, url: str, leads: int, runs: int, sqlite_path: str | None, index_experiment: bool
) -> SizeResult:
    engine = make_engine(url)
    generate = load_demo(engine, leads)
    settle(engine)
    result = SizeResult(backend, leads, generate, source_rows(engine))
    engine.dispose()
    rows = sum(result.source_rows.values())
    print(f"{backend} {leads:,} leads: generated in {generate:.1f} s, {rows:,} source rows", file=sys.stderr)
    methods = [*ENGINE_METHODS, *(DUCKDB_METHODS if sqlite_path else ())]
    if index_experiment:
        methods += [f"{method}{INDEXED}" for method in INDEXED_METHODS]
    for method in methods:
        if method == f"{INDEXED_METHODS[0]}{INDEXED}":
            add_covering_indexes(url)
        try:
            measurement = measure_isolated(method, url, sqlite_path, runs)
        except RuntimeError as exc:  # DuckDB without its sqlite extension
            print(f"  {method}: skipped, {exc}", file=sys.stderr)
            continue
        if result.measurements:
            check_same(result.measurements[0].funnel, measurement.funnel, method)
        result.measurements.append(measurement)
        print(f"  {method:<10} median {measurement.median:8.3f} s", file=sys.stderr)
    return result


def check_backends_agree(results: Sequence[SizeResult]) -> None:
    """The same seed, anchor and size give the same rows, so SQLite and PostgreSQL must agree too."""
    first: dict[int, Funnel] = {}
    for result in results:
        if not result.measurements:
            continue
        funnel = result.measurements[0].funnel
        if result.leads in first:
            check_same(first[result.leads], funnel, f"{result.backend} vs sqlite")
        else:
            first[result.leads] = funnel


def check_scaled(results: Sequence[SizeResult]) -> None:
    """A size above BASE_LEADS is copies of the BASE_LEADS demo, so its funnel is that one multiplied."""
    base = {r.backend: r.measurements[0].funnel for r in results if r.leads == BASE_LEADS and r.measurements}
    for result in results:
        if result.leads <= BASE_LEADS or result.backend not in base or not result.measurements:
            continue
        k = result.leads // BASE_LEADS
        scaled = {
            channel: ChannelFunnel(
                f.total * k,
                f.open * k,
                f.won * k,
                f.lost * k,
                f.won_amount * k,
                tuple(r * k for r in f.reached),
            )
            for channel, f in base[result.backend].items()
        }
        check_same(scaled, result.measurements[0].funnel, f"{result.backend} {result.leads:,} vs {k} x base")


@contextmanager
def private_schema(url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for one run; yields a URL whose search_path is that schema."""
    schema = f"funnel_bench_{os.getpid()}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


# --- output ----------------------------------------------------------------------------------------


def markdown(results: Sequence[SizeResult], runs: int) -> str:
    lines = [
        "| backend | leads | loaded in s | " + " | ".join(SOURCE_TABLES) + " |",
        "|---|---:|---:|" + "---:|" * len(SOURCE_TABLES),
    ]
    for result in results:
        counts = " | ".join(f"{result.source_rows[t]:,}" for t in SOURCE_TABLES)
        lines.append(f"| {result.backend} | {result.leads:,} | {result.generate_seconds:.1f} | {counts} |")
    lines += [
        "",
        f"| backend | leads | source rows | method | median s ({runs} runs) | min–max s | × loudou "
        "| rows into Python | peak RSS +MB | Python heap MB |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        base = result.measurements[0].median if result.measurements else float("nan")
        source = sum(result.source_rows.values())
        for m in result.measurements:
            lines.append(
                f"| {result.backend} | {result.leads:,} | {source:,} | {m.method} | {m.median:.3f} "
                f"| {min(m.seconds):.3f}–{max(m.seconds):.3f} | {m.median / base:.2f} | {m.rows_to_python:,} "
                f"| {m.peak_rss_mb:,.0f} | {m.py_heap_mb:,.1f} |"
            )
    notes = sorted({f"- {m.method}: {m.note}" for r in results for m in r.measurements if m.note})
    return "\n".join([*lines, *(["", *notes] if notes else [])])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="comma-separated lead counts"
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", metavar="URL", help="also run on PostgreSQL, in a private schema")
    parser.add_argument("--postgres-sizes", help="sizes for PostgreSQL (default: --sizes)")
    parser.add_argument(
        "--index-experiment",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="re-time loudou and rollup after adding covering indexes to the scratch database",
    )
    parser.add_argument("--keep", metavar="DIR", help="keep the SQLite files in DIR instead of a temp dir")
    args = parser.parse_args()
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    pg_sizes = (
        [int(s.replace("_", "")) for s in args.postgres_sizes.split(",")] if args.postgres_sizes else sizes
    )
    results: list[SizeResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for leads in sizes:
            path = folder / f"funnel_bench_{leads}.db"
            for stale in folder.glob(f"{path.name}*"):
                stale.unlink()
            url = f"sqlite:///{path}"
            results.append(run_size("sqlite", url, leads, args.runs, str(path), args.index_experiment))
    if args.postgres:
        for leads in pg_sizes:
            with private_schema(args.postgres) as url:
                results.append(run_size("postgresql", url, leads, args.runs, None, args.index_experiment))
    check_backends_agree(results)
    check_scaled(results)
    print(markdown(results, args.runs))


if __name__ == "__main__":
    main()

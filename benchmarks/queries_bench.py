"""Time every query the dashboard, the forecast page, the leads list and `export merged` issue, as Loudou
runs them, against the same answers computed the plain pandas way and by DuckDB in memory.

    python -m benchmarks.queries_bench --sizes 10000,100000,1000000 \\
        --postgres postgresql+psycopg://loudou:loudou@localhost:5432/loudou --out benchmarks/results/

Data: the demo. A size of 100,000 (or a multiple of it) starts from --base (a 100,000-lead demo SQLite
file, copied, never written) or, without one, from generate_demo; multiples are copies made in SQL
(benchmarks.funnel_bench.replicate); smaller sizes are generate_demo(seed 1). PostgreSQL gets the very
rows of the SQLite file of the same size (COPY, in a private schema dropped afterwards).

Per query (benchmarks/query_set.py, query_pages.py) three methods, in this process, one after another:
  loudou  the public function the page calls (one warm-up, then --runs timed runs)
  pandas  pd.read_sql of the rows it needs, then pandas (--pandas-runs timed runs, no warm-up)
  duckdb  SQL over DuckDB's in-memory copy of the tables (copied once from the SQLite file, untimed;
          one warm-up, --runs timed runs), run on each backend's pass, right after the other two.
Every answer is compared with Loudou's (counts and ids exactly, amounts to the cent): `equal` in the
results. Writes results.md and results.csv to --out; the targets of issue #12 are checked at 1M.
"""

from __future__ import annotations

import argparse
import csv
import functools
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, text
from sqlalchemy.orm import Session

import benchmarks.query_pages as qp
import benchmarks.query_set as qs
from benchmarks.funnel_bench import _load_sqlite_scanner, private_schema, replicate, settle
from funnel.access.permissions import SYSTEM
from funnel.core.clock import team_today, utcnow
from funnel.core.db import make_engine, upgrade
from funnel.demo.generate import generate_demo


def _q(name: str, page: str, stem: str, note: str = "") -> qs.Query:
    """A query whose three adapters are `<stem>_loudou`, `<stem>_pandas`, `<stem>_duckdb` (query_set.py for
    the dashboard, query_pages.py for the rest)."""
    module: Any = qs if page == "dashboard" else qp
    fns = [getattr(module, f"{stem}_{method}") for method in METHODS]
    target = page in ("dashboard", "forecast")
    return qs.Query(name, page, fns[0], fns[1], fns[2], target=target, note=note)


METHODS = ("loudou", "pandas", "duckdb")
# The one table to update when a page calls something else: (name, page, adapters' stem, note).
QUERIES: list[qs.Query] = [
    _q("report (funnel, by channel, loss details, entities)", "dashboard", "report"),
    _q("KPI tiles (period + previous)", "dashboard", "kpis"),
    _q("entity funnel (through to cash)", "dashboard", "entities"),
    _q("lost by reason", "dashboard", "reasons"),
    _q("loss point detail", "dashboard", "loss"),
    _q("forecast as of today", "forecast", "forecast", "weekly buckets not compared"),
    _q("first page + count", "leads", "leads_first"),
    _q("stage + channel page", "leads", "leads_filtered"),
    _q("search phone", "leads", "search_phone"),
    _q("search customer no", "leads", "search_no"),
    _q("search name (contains)", "leads", "search_name"),
    _q("export merged", "export", "export", "compared as sorted rows"),
]
ANSWERS: dict[str, Callable[[Any], Any]] = {"export merged": qp.EXPORT_ANSWER}
BASE = 100_000
SEED = 1
DUCKDB_TABLES = ("customer", "stage_event", "contract", "opportunity", "payment", "objection", "contact",
                 "customer_tag", "list_item", "user")  # fmt: skip
TARGET_MS, TARGET_PANDAS, TARGET_DUCKDB, TARGET_SIZE = 150.0, 10.0, 2.0, 1_000_000
TARGET_SEARCH_MS = 300.0


@dataclass
class Row:
    backend: str
    customers: int
    query: qs.Query
    method: str
    seconds: list[float]
    equal: bool | None  # None: Loudou's own row

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000


def _timed(fn: Callable[[], Any], runs: int, warm: bool) -> tuple[list[float], Any]:
    if warm:
        fn()
    seconds, answer = [], None
    for _ in range(runs):
        started = time.perf_counter()
        answer = fn()
        seconds.append(time.perf_counter() - started)
    return seconds, answer


# ---- data ---------------------------------------------------------------------------------------------


def sqlite_file(folder: Path, size: int, base: Path | None) -> Path:
    """The SQLite demo of `size` customers in `folder` (made once, reused by a later run with --keep)."""
    path = folder / f"queries_bench_{size}.db"
    if path.exists():
        return path
    started = time.perf_counter()
    scratch = path.with_suffix(".tmp")
    scratch.unlink(missing_ok=True)
    if size % BASE == 0 and base is not None:
        shutil.copyfile(base, scratch)
        engine = make_engine(f"sqlite:///{scratch}", create=True)
        upgrade(engine)
    else:
        if size > BASE and size % BASE:
            raise SystemExit(f"sizes above {BASE:,} must be multiples of it, got {size:,}")
        engine = make_engine(f"sqlite:///{scratch}", create=True)
        upgrade(engine)
        generate_demo(engine, leads=min(size, BASE), seed=SEED, actor=SYSTEM)
    if size > BASE:
        replicate(engine, size // BASE, extra=("customer_tag",))
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    scratch.rename(path)
    print(f"sqlite {size:,}: built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


def copy_to_postgres(source: Path, url: str) -> None:
    """Every row of the SQLite file into the (migrated, emptied) PostgreSQL schema, by COPY."""
    started = time.perf_counter()
    target = make_engine(url)
    upgrade(target)
    reader = make_engine(f"sqlite:///{source}")
    meta = MetaData()
    meta.reflect(target)
    tables = [t for t in meta.sorted_tables if t.name != "alembic_version"]
    with target.begin() as conn:
        conn.execute(
            text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables) + " RESTART IDENTITY CASCADE")
        )
    raw = target.raw_connection()
    try:
        cursor = raw.cursor()
        with reader.connect() as src:
            for table in tables:
                names = ", ".join(f'"{c.name}"' for c in table.columns)
                rows = src.execution_options(yield_per=20_000).execute(
                    text(f'SELECT {names} FROM "{table.name}"')
                )
                with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row(row)
                if "id" in table.columns:
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                        f'COALESCE(MAX(id), 0) + 1, false) FROM "{table.name}"'
                    )
        raw.commit()
    finally:
        raw.close()
    settle(target)
    target.dispose()
    reader.dispose()
    print(f"postgresql: copied in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def duckdb_copy(path: Path) -> Any:
    import duckdb

    con = duckdb.connect()
    why_not = _load_sqlite_scanner(con)
    if why_not:
        raise SystemExit(why_not)
    con.execute(f"ATTACH '{path}' AS crm (TYPE sqlite, READ_ONLY)")
    for table in DUCKDB_TABLES:
        con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM crm."{table}"')
    con.execute("DETACH crm")
    return con


# ---- one data set -------------------------------------------------------------------------------------


def run_set(
    backend: str,
    engine: Engine,
    size: int,
    sqlite_path: Path,
    args: argparse.Namespace,
) -> list[Row]:
    with Session(engine) as session:
        ctx = qs.make_ctx(session, team_today(), utcnow().replace(minute=0, second=0, microsecond=0))
    con = None
    rows: list[Row] = []
    for query in QUERIES:
        if args.only and not any(word in query.name for word in args.only.split(",")):
            continue
        answer = ANSWERS.get(query.name, lambda a: a)

        def loudou(query: qs.Query = query) -> Any:
            with Session(engine) as session:
                return query.loudou(session, ctx)

        def pandas(query: qs.Query = query) -> Any:
            with engine.connect() as conn:
                return query.pandas(conn, ctx)

        large = size > BASE  # at 1M: fewer runs, no warm-up (a cold first run is one of the runs)
        runs = args.large_runs if large else args.runs
        seconds, expected = _timed(loudou, runs, warm=not large)
        expected = answer(expected)
        rows.append(Row(backend, size, query, "loudou", seconds, None))
        pandas_runs = args.pandas_runs if size < BASE else min(args.pandas_runs, args.large_pandas_runs)
        seconds, got = _timed(pandas, pandas_runs, warm=False)
        rows.append(
            Row(backend, size, query, "pandas", seconds, _check(query, "pandas", expected, answer(got)))
        )
        # DuckDB right after the other two, in the same conditions (the machine's load varies).
        if con is None:
            con = duckdb_copy(sqlite_path)
        seconds, got = _timed(functools.partial(query.duckdb, con, ctx), runs, warm=True)
        got = answer(got)
        rows.append(Row(backend, size, query, "duckdb", seconds, _check(query, "duckdb", expected, got)))
        medians = " ".join(f"{r.method} {r.median_ms:,.1f}" for r in rows[-3:])
        print(f"  {backend} {size:,} {query.name}: {medians} ms", file=sys.stderr)
    if con is not None:
        con.close()
    return rows


def _check(query: qs.Query, method: str, expected: Any, got: Any) -> bool:
    equal = qs.same(expected, got)
    if not equal:
        shown = f"\n     loudou {expected!r:.600}\n     {method} {got!r:.600}"
        print(f"  !! {query.name}: {method} differs{shown}", file=sys.stderr)
    return equal


# ---- output -------------------------------------------------------------------------------------------


def _groups(rows: list[Row]) -> list[tuple[str, int, qs.Query, dict[str, Row]]]:
    out: dict[tuple[str, int, str], tuple[str, int, qs.Query, dict[str, Row]]] = {}
    for r in rows:
        out.setdefault((r.backend, r.customers, r.query.name), (r.backend, r.customers, r.query, {}))[3][
            r.method
        ] = r
    return list(out.values())


def misses(loudou: Row, pandas: Row, duck: Row) -> list[str]:
    """Issue #12's targets at 1M customers that this query misses, with the figure that misses it."""
    query, ms = loudou.query, loudou.median_ms
    if loudou.customers < TARGET_SIZE:
        return []
    if query.page == "leads" and query.name.startswith("search"):
        return [f"{ms:,.0f} ms ≥ {TARGET_SEARCH_MS:.0f}"] if ms >= TARGET_SEARCH_MS else []
    if not query.target:
        return []
    out = []
    if ms >= TARGET_MS:
        out.append(f"{ms:,.0f} ms ≥ {TARGET_MS:.0f}")
    if pandas.median_ms / ms < TARGET_PANDAS:
        out.append(f"only {pandas.median_ms / ms:.1f}x faster than pandas")
    if ms / duck.median_ms > TARGET_DUCKDB:
        out.append(f"{ms / duck.median_ms:.1f}x DuckDB")
    return out


def _has_target(query: qs.Query, size: int) -> bool:
    return size >= TARGET_SIZE and (query.target or query.name.startswith("search"))


CSV_HEADER = ["backend", "customers", "page", "query", "method", "runs", "median_ms", "min_ms", "max_ms",
              "pandas_over_loudou", "loudou_over_duckdb", "equal_to_loudou", "targets_missed",
              "seconds"]  # fmt: skip


def read_results(folder: Path) -> list[Row]:
    """The rows of an earlier run's results.csv (for --combine)."""
    queries = {q.name: q for q in QUERIES}
    with (folder / "results.csv").open(newline="") as f:
        return [
            Row(
                r["backend"],
                int(r["customers"]),
                queries[r["query"]],
                r["method"],
                [float(v) for v in r["seconds"].split(";")],
                None if r["method"] == "loudou" else r["equal_to_loudou"] == "yes",
            )
            for r in csv.DictReader(f)
        ]


def write_results(rows: list[Row], out: Path, args: argparse.Namespace) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "results.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_HEADER)
        for backend, size, query, m in _groups(rows):
            lo, pd_, dk = (m[method] for method in METHODS)
            missed = "; ".join(misses(lo, pd_, dk))
            for method, r in m.items():
                equal = "" if r.equal is None else ("yes" if r.equal else "NO")
                times = [f"{v:.2f}" for v in (r.median_ms, min(r.seconds) * 1000, max(r.seconds) * 1000)]
                ratios = [f"{pd_.median_ms / lo.median_ms:.2f}", f"{lo.median_ms / dk.median_ms:.2f}"]
                own = missed if method == "loudou" else ""
                runs_s = ";".join(f"{v:.4f}" for v in r.seconds)
                head = [backend, size, query.page, query.name, method, len(r.seconds)]
                w.writerow([*head, *times, *ratios, equal, own, runs_s])
    lines = [
        f"Medians in ms: Loudou and DuckDB of {args.runs} runs after a warm-up ({args.large_runs} runs, "
        f"no warm-up, above {BASE:,}); pandas of {args.pandas_runs} runs below {BASE:,}, else "
        f"{args.large_pandas_runs}, no warm-up (results.csv has every run). `pandas ÷` = how many "
        "times slower the pandas way is than Loudou; `÷ DuckDB` = Loudou's time over DuckDB in memory "
        "(its copy is made from the SQLite file, whose rows the PostgreSQL schema holds too; timed in the "
        "same pass as the other two). `equal` = the pandas and DuckDB answers equal Loudou's. Targets at "
        f"{TARGET_SIZE:,}: dashboard and forecast queries < {TARGET_MS:.0f} ms, ≥ {TARGET_PANDAS:.0f}x "
        f"faster than pandas, ≤ {TARGET_DUCKDB:.0f}x DuckDB; searches < {TARGET_SEARCH_MS:.0f} ms.",
        "",
        "| backend | customers | page | query | Loudou ms | pandas ms | DuckDB ms | pandas ÷ | ÷ DuckDB "
        "| equal | target missed |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for backend, size, query, m in _groups(rows):
        lo, pd_, dk = (m[method] for method in METHODS)
        if pd_.equal and dk.equal:
            equal = "yes"
        else:
            equal = ", ".join(f"{r.method} {'yes' if r.equal else 'NO'}" for r in (pd_, dk))
        missed = "; ".join(misses(lo, pd_, dk)) or ("met" if _has_target(query, size) else "")
        note = f" ({query.note})" if query.note else ""
        figures = [lo.median_ms, pd_.median_ms, dk.median_ms, pd_.median_ms / lo.median_ms]
        lines.append(
            f"| {backend} | {size:,} | {query.page} | {query.name}{note} | "
            + " | ".join(f"{v:,.1f}" for v in figures)
            + f" | {lo.median_ms / dk.median_ms:,.1f} | {equal} | {missed} |"
        )
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated customer counts")
    parser.add_argument("--postgres", metavar="URL", help="also run on PostgreSQL, in a private schema")
    parser.add_argument("--postgres-sizes", help="sizes for PostgreSQL (default: --sizes)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pandas-runs", type=int, default=3)
    parser.add_argument("--large-runs", type=int, help="Loudou runs above 100,000 (default: --runs)")
    parser.add_argument("--large-pandas-runs", type=int, default=1, help="pandas runs from 100,000")
    parser.add_argument(
        "--combine",
        type=Path,
        nargs="+",
        metavar="DIR",
        help="only merge the results.csv of earlier runs (e.g. run in parallel) into --out",
    )
    parser.add_argument("--base", type=Path, help="a 100,000-lead demo SQLite file to start from (copied)")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the SQLite files in this folder")
    parser.add_argument("--only", help="comma-separated words: only the queries whose name holds one")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    args.large_runs = args.large_runs or args.runs
    if args.combine:
        write_results([row for folder in args.combine for row in read_results(folder)], args.out, args)
        return
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]  # "": PostgreSQL only
    pg_sizes = [int(s) for s in args.postgres_sizes.split(",")] if args.postgres_sizes else sizes
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        files = {size: sqlite_file(folder, size, args.base) for size in sorted({*sizes, *pg_sizes})}
        for size in sizes:
            engine = make_engine(f"sqlite:///{files[size]}")
            rows += run_set("sqlite", engine, size, files[size], args)
            engine.dispose()
            write_results(rows, args.out, args)
        for size in pg_sizes if args.postgres else []:
            with private_schema(args.postgres) as url:
                copy_to_postgres(files[size], url)
                engine = make_engine(url)
                rows += run_set("postgresql", engine, size, files[size], args)
                engine.dispose()
            write_results(rows, args.out, args)


if __name__ == "__main__":
    main()

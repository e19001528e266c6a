"""Time demo data generation: `python -m benchmarks.demo_bench [--leads N] [--postgres URL]`.

SQLite runs on a fresh temporary file; PostgreSQL only on the URL given, which must hold no customers
(generate_demo refuses otherwise), e.g. a scratch schema: ...?options=-csearch_path%3Ddemo_bench.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from funnel.access.permissions import SYSTEM
from funnel.core.db import make_engine, upgrade
from funnel.demo.generate import generate_demo


def bench(url: str, leads: int) -> None:
    engine = make_engine(url)
    started = time.perf_counter()
    upgrade(engine)
    migrated = time.perf_counter()
    summary = generate_demo(engine, leads=leads, actor=SYSTEM)
    engine.dispose()
    rows = sum(summary.counts.values())
    print(
        f"{engine.dialect.name:<10} {leads:>7,} leads {rows:>8,} rows: schema {migrated - started:5.2f} s, "
        f"demo {summary.elapsed_seconds:5.2f} s ({leads / summary.elapsed_seconds:,.0f} leads/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database to load as well")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench(f"sqlite:///{Path(tmp) / 'bench.db'}", args.leads)
    if args.postgres:
        bench(args.postgres, args.leads)


if __name__ == "__main__":
    main()

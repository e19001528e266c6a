"""`demo`: load realistic demo users and leads with six months of history."""

from __future__ import annotations

import argparse
import unicodedata
from typing import Any

from funnel.access.permissions import SYSTEM
from funnel.cli.arguments import iso_date
from funnel.core.db import make_engine, upgrade

DESCRIPTION = """\
Load demo users (12 reps, manager, boss, delivery, admin; password loudou-demo) and N leads with six months
of stage history, grades, objections, opportunities, contracts, payments, activities and follow-up tasks.
The same --seed, --leads and --anchor give identical data in an empty database.

The database must be empty (no customers) unless --append is given; --append adds the leads alongside
what is there, reuses demo users that already exist and never changes existing rows. The schema is
created or upgraded first, so this works on a fresh database."""


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="load realistic demo data (same seed, same data)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--leads", type=int, default=2000, metavar="N", help="leads to create (default 2000)")
    parser.add_argument("--seed", type=int, default=42, metavar="S", help="random seed (default 42)")
    parser.add_argument(
        "--anchor",
        type=iso_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="history ends at 00:00 UTC of this date (default: today, UTC); not in the future",
    )
    parser.add_argument(
        "--append", action="store_true", help="add demo data to a database that already holds customers"
    )
    parser.set_defaults(handler=demo)


def _width(text: str) -> int:
    # Chinese characters take two terminal columns; count them so the user table lines up.
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str | None, width: int) -> str:
    value = text or "-"
    return value + " " * max(0, width - _width(value))


def _user_line(*cells: str | None) -> str:
    widths = (10, 9, 8, 7, 9)
    padded = [_pad(cell, width) for cell, width in zip(cells, widths, strict=False)]
    return "  " + " ".join([*padded, cells[-1] or "-"])


def demo(args: argparse.Namespace) -> int:
    # Imported here so that other commands do not pay for loading Faker.
    from funnel.demo.generate import DEMO_PASSWORD, generate_demo

    engine = make_engine(create=True)  # demo data may start a new database, as init-db does
    try:
        upgrade(engine)
        summary = generate_demo(
            engine, leads=args.leads, seed=args.seed, anchor=args.anchor, append=args.append, actor=SYSTEM
        )
    finally:
        engine.dispose()
    url = engine.url.render_as_string(hide_password=True)
    print(
        f"Loaded {summary.leads:,} demo leads into {url} in {summary.elapsed_seconds:.1f} s "
        f"(seed {summary.seed}, history up to {summary.anchor} 00:00 UTC)."
    )
    print("Rows inserted:")
    for table, count in summary.counts.items():
        print(f"  {table:<12} {count:>9,}")
    print(f"Demo users (new ones sign in with the password {DEMO_PASSWORD!r}):")
    print(_user_line("username", "role", "name", "region", "industry", "team"))
    for user in summary.users:
        note = "" if user.created else "  (already existed)"
        line = _user_line(user.username, user.role, user.display_name, user.region, user.industry, user.team)
        print(line + note)
    return 0

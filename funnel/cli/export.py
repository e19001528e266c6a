"""`export merged`: one row per customer with its opportunities, contracts and payments (CSV or JSON)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any

from funnel.cli.arguments import reader
from funnel.closing.merged import MERGED_COLUMNS, merged_rows
from funnel.core.db import make_engine, session_scope, upgrade
from funnel.core.export import neutralise


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "export",
        help="export the data factory's merged view (one row per customer)",
        description="merged: one row per customer with "
        + ", ".join(MERGED_COLUMNS)
        + " (contracts: signed ones; outstanding = contract_amount - paid_amount).",
    )
    parser.add_argument("what", choices=("merged",), help="what to export")
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    parser.add_argument(
        "--as", dest="as_user", metavar="USERNAME", help="export exactly what this user may see (e.g. a rep)"
    )
    parser.set_defaults(handler=export)


def export(args: argparse.Namespace) -> int:
    engine = make_engine()
    upgrade(engine)
    with session_scope(engine) as session:
        actor = reader(session, args.as_user)
        rows = merged_rows(session, actor=actor)
        if args.format == "json":
            json.dump(list(rows), sys.stdout, ensure_ascii=False, indent=2)
            print()
            return 0
        writer = csv.DictWriter(sys.stdout, fieldnames=list(MERGED_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(_safe(row))
    return 0


def _safe(row: dict[str, object]) -> dict[str, object]:
    """Text cells that would start a spreadsheet formula are neutralised, as in every export."""
    return {name: neutralise(value) for name, value in row.items()}

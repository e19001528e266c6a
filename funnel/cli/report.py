"""`report`: the funnel overall and per segment, as a table, JSON or CSV."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from funnel.analytics.filters import BASES, CREATED, FILTER_FIELDS, SEGMENT_FIELDS, CustomerFilter
from funnel.analytics.report import build_report, report_table
from funnel.cli.arguments import iso_date, reader
from funnel.core.db import make_engine, session_scope, upgrade
from funnel.core.export import spreadsheet_safe


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "report",
        help="print the funnel: reached, conversion, drop-off, win rate",
        description="The funnel overall and, with --by, per value of a customer attribute or creation "
        "period. Rates are fractions (0.2 = 20 %%).",
    )
    parser.add_argument("--by", choices=SEGMENT_FIELDS, help="split the funnel by this field")
    parser.add_argument("--since", type=iso_date, help="only customers created on or after this date")
    parser.add_argument("--until", type=iso_date, help="only customers created on or before this date")
    parser.add_argument(
        "--basis",
        choices=BASES,
        default=CREATED,
        help="what --since/--until select: customers created in the period (default), or with an activity "
        "or a stage change in it (the dashboard's period basis)",
    )
    for name in FILTER_FIELDS:
        parser.add_argument(
            f"--{name}",
            action="append",
            default=[],
            metavar="VALUE",
            help=f"only customers with this {name} (repeat for any of several; the owner by username)",
        )
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    parser.add_argument(
        "--as", dest="as_user", metavar="USERNAME", help="report exactly what this user may see (e.g. a rep)"
    )
    parser.set_defaults(handler=report)


def report(args: argparse.Namespace) -> int:
    engine = make_engine()
    upgrade(engine)
    with session_scope(engine) as session:
        actor = reader(session, args.as_user)
        values = {name: tuple(getattr(args, name)) for name in FILTER_FIELDS if getattr(args, name)}
        filters = CustomerFilter(since=args.since, until=args.until, values=values, basis=args.basis)
        result = build_report(session, actor=actor, by=args.by, filters=filters)
    if args.format == "json":
        json.dump(result.as_dict(), sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    table = report_table(result)
    if args.format == "csv":
        spreadsheet_safe(table).to_csv(sys.stdout, index=False)
        return 0
    _print_table(result, table)
    return 0


def _percent(value: float | None) -> str:
    return "—" if value is None or value != value else f"{value:.1%}"  # NaN != NaN


def _print_table(result: Any, table: Any) -> None:
    shown = table.assign(
        step_conversion=table["step_conversion"].map(_percent),
        overall_conversion=table["overall_conversion"].map(_percent),
    )
    for label, rows in shown.groupby("segment", sort=False):
        print(f"\n== {label} ==")
        print(rows.drop(columns=["segment", "stage"]).to_string(index=False))
    overall = result.overall
    print(
        f"\ntotal {overall.total}: open {overall.open}, won {overall.won}, lost {overall.lost}; "
        f"win rate {_percent(overall.win_rate)}; won amount {overall.won_amount:,.2f}"
    )
    loss = overall.loss_point(result.details)
    if loss:
        print(
            f"loss point: {loss.at_stage} -> {loss.to_stage} "
            f"({_percent(loss.step_conversion)} step conversion, {loss.drop_off} dropped)"
        )

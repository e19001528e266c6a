"""`forecast` and `snapshot`: the weighted pipeline by week, as of any day, and the week's stored copy."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from funnel.access.permissions import SYSTEM
from funnel.analytics.forecast import (
    DEFAULT_WEEKS,
    DEFAULT_WINDOW_DAYS,
    Forecast,
    build_forecast,
    take_snapshot,
)
from funnel.cli.arguments import iso_date, positive_int
from funnel.core.clock import team_today
from funnel.core.db import make_engine, session_scope, upgrade


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "forecast",
        help="print the weighted pipeline by week, as of any day",
        description="The funnel's state at the end of --as-of (the team's zone; default today) rebuilt from "
        "the stage history; P(win | stage) from the customers closed in the --window-days before it; the "
        "open amount of every open customer times that probability, by ISO week of its expected close.",
    )
    parser.add_argument(
        "--as-of", type=iso_date, help="the day (YYYY-MM-DD) the forecast is made; default today"
    )
    parser.add_argument("--weeks", type=positive_int, default=DEFAULT_WEEKS, help="weeks ahead (default 12)")
    parser.add_argument(
        "--window-days",
        type=positive_int,
        default=DEFAULT_WINDOW_DAYS,
        help="history used for P(win | stage), in days before --as-of (default 365)",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(handler=forecast)

    snap: argparse.ArgumentParser = sub.add_parser(
        "snapshot",
        help="store this week's forecast (once per ISO week; for forecast vs actual)",
        description="Store the company's forecast for the current ISO week, unless the week already has one. "
        "Cron-friendly: run it every Monday morning, or any time (a second run in the week writes nothing).",
    )
    snap.add_argument("--format", choices=("text", "json"), default="text")
    snap.set_defaults(handler=snapshot)


def forecast(args: argparse.Namespace) -> int:
    engine = make_engine()
    upgrade(engine)
    as_of = args.as_of or team_today()
    if as_of > team_today():
        raise ValueError(
            f"--as-of {as_of.isoformat()} is in the future; the forecast is made as of today or before"
        )
    with session_scope(engine) as session:
        result = build_forecast(
            session, actor=SYSTEM, as_of=as_of, weeks=args.weeks, window_days=args.window_days
        )
    if args.format == "json":
        json.dump(result.as_dict(), sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    _print_table(result)
    return 0


def _print_table(result: Forecast) -> None:
    print(
        f"forecast as of {result.as_of.isoformat()} (history: {result.window_days} days, "
        f"{result.closed_in_window} customers closed in it)"
    )
    print("\nP(win | stage):")
    for stage, p in result.p_win.items():
        print(f"  {stage:<12} {p:6.1%}  ({result.p_win_source[stage]})")
    print(
        f"\nopen customers {result.open}; pipeline {result.pipeline:,.2f}; weighted {result.weighted:,.2f}; "
        f"slipped (expected close already past) {result.slipped}"
    )
    print(f"\n{'week':<10} {'start':<10} {'deals':>6} {'amount':>16} {'weighted':>16}")
    for week in result.weeks:
        print(
            f"{week.week:<10} {week.start.isoformat():<10} {week.deals:>6} {week.amount:>16,.2f} "
            f"{week.weighted:>16,.2f}"
        )


def snapshot(args: argparse.Namespace) -> int:
    engine = make_engine()
    upgrade(engine)
    with session_scope(engine) as session:
        result = take_snapshot(session, actor=SYSTEM)
    if args.format == "json":
        print(
            json.dumps(
                {"week": result.week, "created": result.created, "weighted": round(result.weighted, 2)}
            )
        )
    elif result.created:
        print(f"stored the forecast of {result.week}: weighted {result.weighted:,.2f} for the week")
    else:
        print(f"{result.week} already has its snapshot (weighted {result.weighted:,.2f}); nothing written")
    return 0

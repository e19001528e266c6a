"""`summary`: the one-page weekly summary for leadership, as an HTML file, optionally announced."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from funnel.access.permissions import SYSTEM
from funnel.analytics.weekly_summary import build_summary, parse_week, post_summary, render_html
from funnel.core.db import make_engine, session_scope, upgrade
from funnel.core.i18n import LANGUAGES


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "summary",
        help="write the weekly summary for leadership (one printable HTML page)",
        description="The week's figures against the week before, the funnel of the last 90 days with its top "
        "loss point, and the forecast, as one self-contained HTML page (print it to PDF from a browser). "
        "Cron-friendly: `summary --week <last week> --out FILE --post` every Monday.",
    )
    parser.add_argument("--week", help="the ISO week, e.g. 2026-W49 (default: this week so far)")
    parser.add_argument("--lang", choices=LANGUAGES, default="zh", help="the page's language (default zh)")
    parser.add_argument("--out", type=Path, help="write the page to this file (default: standard output)")
    parser.add_argument(
        "--post", action="store_true", help="also tell every leadership user (inbox and their group bots)"
    )
    parser.set_defaults(handler=summary)


def summary(args: argparse.Namespace) -> int:
    day = parse_week(args.week) if args.week else None
    engine = make_engine()
    upgrade(engine)
    with session_scope(engine) as session:
        result = build_summary(session, actor=SYSTEM, day=day)
        page = render_html(result, args.lang)
        told = post_summary(session, actor=SYSTEM, summary=result) if args.post else None
    if args.out is None:
        sys.stdout.write(page)
    else:
        args.out.write_text(page, encoding="utf-8")
        print(f"wrote the summary of {result.week} to {args.out}")
    if told is not None:
        print(f"told {told} leadership users", file=sys.stderr if args.out is None else sys.stdout)
    return 0

"""`remind`: run the timer engine once (for cron) and say what it newly flagged, per rule."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from funnel.core.clock import utcnow
from funnel.core.db import make_engine, upgrade
from funnel.store.bulk import refresh_stale_statistics
from funnel.timers.engine import run_timers


def iso_instant(text: str) -> datetime:
    """An ISO-8601 instant as naive UTC (a time without an offset is UTC); ValueError names the value.

    Checked by the command rather than by argparse, so that a bad value is one line (main prints a
    ValueError as "error: ..." with exit status 2) instead of argparse's usage block.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(
            f"--now {text!r} is not an ISO-8601 time; use e.g. 2026-12-04T09:30:00+08:00"
        ) from exc
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "remind",
        help="run the timers once: first-contact SLA, the daily A list, tasks due and overdue",
        description="Evaluate every timer rule at --now (default: the clock) and tell each user what is "
        "newly due. Idempotent: a second run with the same --now creates nothing. Counts are of "
        "customers (or tasks) newly flagged per rule, not of messages sent.",
    )
    parser.add_argument(
        "--now",
        help="evaluate at this ISO-8601 time (without an offset: UTC), e.g. 2026-12-04T09:30:00+08:00",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=remind)


def remind(args: argparse.Namespace) -> int:
    now = iso_instant(args.now) if args.now is not None else utcnow()
    engine = make_engine()
    try:
        upgrade(engine)
        created = run_timers(engine, now)
        refresh_stale_statistics(engine)  # SQLite's planner statistics, as the database grows by use
    finally:
        engine.dispose()
    result = {
        "now": now.replace(tzinfo=UTC).isoformat(),
        "created": created,
        "total_created": sum(created.values()),
    }
    if args.format == "json":
        json.dump(result, sys.stdout, ensure_ascii=False)
        print()
        return 0
    print(f"timers at {result['now']}:")
    for rule, count in created.items():
        print(f"  {rule}: {count}")
    print(f"{result['total_created']} newly flagged.")
    return 0

"""`import-calls`: a phone system's call log (time, number, direction, duration) as call activities."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from funnel.access.permissions import SYSTEM
from funnel.capture.import_parsing import ImportFileError
from funnel.core.db import make_engine, session_scope, upgrade
from funnel.core.i18n import t
from funnel.working.call_sync import import_calls


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "import-calls",
        help="import a call log (CSV/.xlsx: time, number, direction, duration) as call activities",
        description="Each call is matched to the customer with that phone number (normalised) and logged "
        "once, however often the file is imported. Exit status: 0 every row matched, 1 some rows unmatched, "
        "2 the file could not be read.",
    )
    parser.add_argument("path", help="the call log; headers in English or Chinese (时间, 号码, 方向, 时长)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    engine = make_engine()
    try:
        upgrade(engine)
        with session_scope(engine) as session:
            result = import_calls(session, args.path, actor=SYSTEM)
    except ImportFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    unmatched = [
        {"row": u.row, "number": u.number, "reason": t(u.reason, "en", **u.params)} for u in result.unmatched
    ]
    if args.format == "json":
        print(json.dumps({"created": result.created, "already": result.already, "unmatched": unmatched}))
    else:
        for row in unmatched:
            print(f"row {row['row']}: {row['number']}: {row['reason']}")
        print(f"{result.created} calls logged, {result.already} already known, {len(unmatched)} unmatched")
    return 1 if unmatched else 0

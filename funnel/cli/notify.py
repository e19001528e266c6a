"""`notify`: send the group-bot messages that are due (for cron, or as a long-running sender)."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from funnel.core.db import make_engine, upgrade
from funnel.core.i18n import t
from funnel.core.settings import get_settings
from funnel.integrations.outbox import deliver_due


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "notify",
        help="send the due group-bot messages (WeCom, DingTalk, Feishu, Slack) with retries",
        description="Send the outbox's due messages. A failed message is retried with exponential back-off "
        "and kept as failed after its last attempt (retry it from the Routing page). Without --once the "
        "command keeps sending every CRM_NOTIFY_INTERVAL_SECONDS (30) seconds.",
    )
    parser.add_argument("--once", action="store_true", help="send what is due now, then exit")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=run_notify)


def run_notify(args: argparse.Namespace) -> int:
    engine = make_engine()
    try:
        upgrade(engine)
        while True:
            report = deliver_due(engine)
            if args.format == "json":
                print(json.dumps(report.as_json()), flush=True)
            else:
                print(t("notify.cli.summary", "en", **report.as_json()), flush=True)
            if args.once:
                return 0
            time.sleep(get_settings().notify_interval_seconds)
    finally:
        engine.dispose()

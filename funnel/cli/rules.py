"""`rules load PATH.toml` replaces the routing rule set at once; `rules show` prints it (round-trips)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from funnel.access.permissions import SYSTEM
from funnel.capture.routing_rules import (
    current_rule_set,
    describe_error,
    parse_rules_toml,
    replace_rules,
    rules_as_json,
    rules_to_toml,
)
from funnel.core.db import make_engine, session_scope, upgrade
from funnel.core.errors import ValidationError

LANG = "en"


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "rules",
        help="load or show the lead routing rules (a TOML file)",
        description="Routing rules: [settings] fallback_owner / fallback_queue / max_open_leads and one "
        "[[rule]] per rule (name, region, industry, channel, campaign, tags, score_min, score_max, owner "
        "or team, method round_robin|least_loaded, active), first match first.",
    )
    actions = parser.add_subparsers(dest="rules_action", metavar="ACTION", required=True)
    load = actions.add_parser("load", help="replace the whole rule set with the file's (all or nothing)")
    load.add_argument("path", type=Path, help="the .toml file")
    load.set_defaults(handler=load_rules_file)
    show = actions.add_parser("show", help="print the rule set (the TOML that `rules load` reads back)")
    show.add_argument("--format", choices=("toml", "json"), default="toml")
    show.set_defaults(handler=show_rules)


def load_rules_file(args: argparse.Namespace) -> int:
    text = args.path.read_text(encoding="utf-8")
    engine = make_engine()
    try:
        upgrade(engine)
        try:
            rule_set = parse_rules_toml(text)
            with session_scope(engine) as session:
                rules = replace_rules(session, actor=SYSTEM, rule_set=rule_set)
        except ValidationError as exc:
            for error in exc.errors:
                print(f"error: {describe_error(error, LANG)}", file=sys.stderr)
            print(f"{args.path}: nothing loaded; the rule set is unchanged", file=sys.stderr)
            return 1
    finally:
        engine.dispose()
    print(f"loaded {len(rules)} routing rules from {args.path}")
    return 0


def show_rules(args: argparse.Namespace) -> int:
    engine = make_engine()
    try:
        upgrade(engine)
        with session_scope(engine) as session:
            rule_set = current_rule_set(session)
    finally:
        engine.dispose()
    if args.format == "json":
        json.dump(rules_as_json(rule_set), sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        sys.stdout.write(rules_to_toml(rule_set))
    return 0

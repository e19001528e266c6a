"""`check`: prove the stored funnel state equals a recount of the stage history (and repair it)."""

from __future__ import annotations

import argparse
from typing import Any

from funnel.access.permissions import SYSTEM
from funnel.core.db import make_engine, session_scope, upgrade
from funnel.customers.recount import funnel_differences, repair_funnel_state
from funnel.customers.search import rebuild_search_index, search_index_problems
from funnel.store.deal_amounts import deal_amount_differences, recount_deal_amounts
from funnel.store.last_active import last_active_differences, recount_last_active

SHOWN = 20


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "check",
        help="recount every customer's furthest stage from its history; exit 1 on any difference",
        description="Recount every customer's furthest stage reached and won/lost dates from stage_event "
        "and compare them with what the customer row stores (what the reports read), and compare the leads "
        "search index with the customer and contact rows (SQLite), and each customer's last-active time with "
        "its activities and stage events, and each customer's stored deal sums with its opportunities and "
        "signed contracts. Exit status: 0 no difference, "
        "1 differences found (with --fix: repaired, and audited; the search index rebuilt).",
    )
    parser.add_argument("--fix", action="store_true", help="write the recount over every difference")
    parser.set_defaults(handler=check)


def check(args: argparse.Namespace) -> int:
    engine = make_engine()
    try:
        upgrade(engine)
        with session_scope(engine) as session:
            if args.fix:
                found = repair_funnel_state(session, actor=SYSTEM)
            else:
                found = funnel_differences(session, actor=SYSTEM)
            search_problems = search_index_problems(session)
            if args.fix and search_problems:
                rebuild_search_index(session)
            stale_active = last_active_differences(session)
            if args.fix and stale_active:
                recount_last_active(session, [d.customer_id for d in stale_active])
            stale_amounts = deal_amount_differences(session)
            if args.fix and stale_amounts:
                recount_deal_amounts(session, [d.customer_id for d in stale_amounts])
    finally:
        engine.dispose()
    for problem in search_problems:
        print(f"search index of {problem.table}: {problem.problem}" + (" (rebuilt)" if args.fix else ""))
    if not search_problems:
        print("0 differences: the leads search index equals the customer and contact rows.")
    for stale in stale_active[:SHOWN]:
        print(
            f"{stale.customer_no}: last active stored {stale.stored or '-'}, its activities and stage events "
            f"say {stale.expected or '-'}" + (" (repaired)" if args.fix else "")
        )
    print(
        f"{len(stale_active):,} customers' last-active time differs from their activities and stage events."
        if stale_active
        else "0 differences: every customer's last-active time equals its latest activity or stage event."
    )
    for stale_amount in stale_amounts[:SHOWN]:
        stored, expected = _amounts(stale_amount.stored), _amounts(stale_amount.expected)
        print(
            f"{stale_amount.customer_no}: opportunities / signed contracts stored {stored}, "
            f"its rows sum to {expected}" + (" (repaired)" if args.fix else "")
        )
    print(
        f"{len(stale_amounts):,} customers' deal sums differ from their opportunities and signed contracts."
        if stale_amounts
        else "0 differences: every customer's deal sums equal its opportunities and signed contracts."
    )
    for diff in found[:SHOWN]:
        print(f"{diff.customer_no}: stored {_state(diff.stored)}, history says {_state(diff.expected)}")
    if len(found) > SHOWN:
        print(f"... and {len(found) - SHOWN:,} more")
    verb = "repaired" if args.fix else "found"
    print(
        f"{len(found):,} customers differ from their stage history ({verb})."
        if found
        else "0 differences: every customer's stored funnel state equals a recount of its history."
    )
    return 1 if found or search_problems or stale_active or stale_amounts else 0


def _amounts(values: tuple[object, object]) -> str:
    return " / ".join("-" if value is None else f"{value}" for value in values)


def _state(values: tuple[object, ...]) -> str:
    furthest, won_at, lost_at = values
    parts = [f"furthest {furthest}"]
    if won_at:
        parts.append(f"won {won_at}")
    if lost_at:
        parts.append(f"lost {lost_at}")
    return ", ".join(parts)

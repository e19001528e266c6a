"""The one timer engine: every rule, evaluated from the data at `now`, idempotent.

`python -m funnel remind` runs it (for cron), and so does opening My day or the inbox (at most once per
`timer_page_interval_seconds` per server process). Running it twice with the same `now` creates nothing
the second time; running it concurrently fires each subject once (see rules.claim).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from funnel.core.clock import utcnow
from funnel.core.db import session_scope, take_write_lock
from funnel.core.settings import Settings, get_settings
from funnel.timers.rules import all_rules


def rule_names() -> tuple[str, ...]:
    """The names of every rule the engine runs, in order (the keys of `remind`'s "created")."""
    return tuple(rule.name for rule in all_rules())


def __getattr__(name: str) -> tuple[str, ...]:
    # RULE_NAMES reads the registry when asked, so rules registered after this import are included.
    if name == "RULE_NAMES":
        return rule_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run_timers(
    target: Session | Engine, now: datetime | None = None, *, settings: Settings | None = None
) -> dict[str, int]:
    """Fire every rule at `now` (naive UTC; default: the clock); {rule: subjects newly flagged}.

    With a session the rules run in the caller's transaction; with an engine each rule commits on its
    own, so that one rule's failure does not undo what the others told.
    """
    now = now or utcnow()
    settings = settings or get_settings()
    if isinstance(target, Session):
        take_write_lock(target)
        return {rule.name: rule.fire(target, now, settings) for rule in all_rules()}
    created: dict[str, int] = {}
    for rule in all_rules():
        with session_scope(target) as session:
            take_write_lock(session)  # SQLite: read the candidates and claim them under one lock
            created[rule.name] = rule.fire(session, now, settings)
    return created


_last_run: dict[str, float] = {}
_last_run_lock = threading.Lock()


def run_timers_if_due(engine: Engine, *, min_interval_seconds: float | None = None) -> dict[str, int] | None:
    """Run the timers unless this process ran them on this database within the interval; None if skipped."""
    interval = (
        get_settings().timer_page_interval_seconds if min_interval_seconds is None else min_interval_seconds
    )
    key = engine.url.render_as_string(hide_password=True)
    with _last_run_lock:
        started = time.monotonic()
        last = _last_run.get(key)
        if last is not None and started - last < interval:
            return None
        _last_run[key] = started
    return run_timers(engine)

"""Where the domain events meet their handlers: the one place that subscribes them.

Scoring, routing, notifications and the timers' side effects subscribe to the events of
`funnel.core.events` here, not at import time of their modules, so that what runs after a commit is
written down in one list. The app, the command line and the test suite call `install_handlers()` once
per process (it is idempotent).
"""

from __future__ import annotations

from funnel.capture.routing import route_new_leads
from funnel.core.events import subscribe, subscribe_batch

_installed = False


def install_handlers() -> None:
    """Subscribe every domain event handler (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    # One line per handler, e.g. subscribe(LeadCreated, score_lead_after_commit)
    from funnel.capture import scoring
    from funnel.closing import reminders
    from funnel.core.events import CustomerUpdated, LeadCreated, StageMoved

    # A new lead is stored scored, with its tags linked (funnel.capture.leads.store_leads); an unowned one
    # goes through the routing rules after the commit (once per commit, a whole import batch).
    subscribe_batch(LeadCreated, route_new_leads)
    subscribe(CustomerUpdated, scoring.score_updated_customer)
    subscribe(StageMoved, scoring.score_after_stage)
    reminders.install()  # closing's timer rules and red flags join the timer engine and the customer guide

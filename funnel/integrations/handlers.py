"""Where the domain events meet their handlers: the one place that subscribes them.

Scoring, routing, notifications and the timers' side effects subscribe to the events of
`funnel.core.events` here, not at import time of their modules, so that what runs after a commit is
written down in one list. The app, the command line and the test suite call `install_handlers()` once
per process (it is idempotent).
"""

from __future__ import annotations

from funnel.capture.routing import route_new_lead
from funnel.core.events import LeadCreated, subscribe

_installed = False


def install_handlers() -> None:
    """Subscribe every domain event handler (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    # One line per handler, e.g. subscribe(LeadCreated, score_lead_after_commit)
    subscribe(LeadCreated, route_new_lead)  # an unowned new lead goes through the routing rules

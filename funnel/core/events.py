"""Domain events: use cases record what happened on the unit of work; handlers run after the commit.

Side effects (scoring, routing, notifications, timers, surveys, webhooks) subscribe here instead of
living inside `create_lead` or `move_stage`. The audit row is not an event: it is written inside the
transaction. A handler runs only once the write is committed, and one that fails is logged and never
undoes the committed write (nor stops the other handlers).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
_PENDING = "loudou_events"


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened to the data; `customer_id` where it concerns a customer."""


@dataclass(frozen=True)
class LeadCreated(DomainEvent):
    customer_id: int
    customer_no: str
    channel: str | None
    owner_id: int | None
    by_role: str  # the principal's role: a rep, "system" (import) or "public" (a prospect's form)


@dataclass(frozen=True)
class StageMoved(DomainEvent):
    customer_id: int
    from_stage: str | None
    to_stage: str
    at: datetime


@dataclass(frozen=True)
class CustomerWon(DomainEvent):
    customer_id: int
    at: datetime


@dataclass(frozen=True)
class CustomerLost(DomainEvent):
    customer_id: int
    at: datetime
    reason: str


@dataclass(frozen=True)
class LeadAssigned(DomainEvent):
    customer_id: int
    owner_id: int
    previous_owner_id: int | None


@dataclass(frozen=True)
class CustomerUpdated(DomainEvent):
    customer_id: int
    fields: tuple[str, ...]


@dataclass(frozen=True)
class CustomerDeleted(DomainEvent):
    customer_id: int
    customer_no: str


E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[Any, Engine], None]
_handlers: dict[type[DomainEvent], list[Handler]] = defaultdict(list)


def subscribe(event_type: type[E], handler: Callable[[E, Engine], None]) -> None:
    """Run `handler(event, engine)` after every commit that recorded an `event_type`."""
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


BatchHandler = Callable[[list[Any], Engine], None]
_batch_handlers: dict[type[DomainEvent], list[BatchHandler]] = defaultdict(list)


def subscribe_batch(event_type: type[E], handler: Callable[[list[E], Engine], None]) -> None:
    """Run `handler(events, engine)` once per commit with all its `event_type` events (an import's 8,000
    LeadCreated in one call: one unit of work for the side effect instead of one per lead)."""
    if handler not in _batch_handlers[event_type]:
        _batch_handlers[event_type].append(handler)


def unsubscribe(event_type: type[E], handler: Callable[[E, Engine], None]) -> None:
    if handler in _handlers[event_type]:
        _handlers[event_type].remove(handler)


def record(session: Session, event: DomainEvent) -> None:
    """Remember `event` on the session's unit of work; it is published only if the commit succeeds."""
    session.info.setdefault(_PENDING, []).append(event)


def take_pending(session: Session) -> list[DomainEvent]:
    """The events recorded on the session so far, removed from it (after a rollback: to drop them)."""
    return session.info.pop(_PENDING, [])


def publish(events: list[DomainEvent], engine: Engine) -> None:
    """Run the handlers of each committed event; a failing handler is logged, the rest still run.

    Batch handlers (scoring) run before the per-event ones (routing), so a routing rule on the score
    sees the new lead's score.
    """
    by_type: dict[type[DomainEvent], list[DomainEvent]] = defaultdict(list)
    for event in events:
        by_type[type(event)].append(event)
    for event_type, batch in by_type.items():
        for batch_handler in list(_batch_handlers.get(event_type, ())):
            try:
                batch_handler(batch, engine)
            except Exception:
                log.exception(
                    "handler %s failed for %d %s (committed)", batch_handler, len(batch), event_type
                )
    for event in events:
        for handler in list(_handlers.get(type(event), ())):
            try:
                handler(event, engine)
            except Exception:
                log.exception("handler %s failed for %r (the write itself is committed)", handler, event)

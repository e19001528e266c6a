"""Domain events: recorded by the use cases, published to handlers only after the commit."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select

from funnel.access.permissions import SYSTEM
from funnel.capture.leads import LeadInput, create_lead
from funnel.core import events
from funnel.core.db import session_scope
from funnel.customers.stages import move_stage
from funnel.store.models import Customer

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def seen() -> Iterator[list[events.DomainEvent]]:
    received: list[events.DomainEvent] = []

    def handler(event: events.DomainEvent, engine: Engine) -> None:
        # A handler runs after the commit: the customer is there for a new transaction to read.
        with session_scope(engine) as s:
            assert s.get(Customer, event.customer_id) is not None  # type: ignore[attr-defined]
        received.append(event)

    for kind in (events.LeadCreated, events.StageMoved, events.CustomerWon):
        events.subscribe(kind, handler)
    yield received
    for kind in (events.LeadCreated, events.StageMoved, events.CustomerWon):
        events.unsubscribe(kind, handler)


def test_use_cases_publish_their_events_after_the_commit(engine, seen):
    with session_scope(engine) as s:
        customer = create_lead(s, LeadInput(name="A", email="a@x.cn", channel="展会"), actor=SYSTEM)
        assert seen == []  # nothing before the commit
    with session_scope(engine) as s:
        move_stage(s, customer_id=customer.id, to_stage="won", actor=SYSTEM)

    kinds = [type(event).__name__ for event in seen]
    assert kinds == ["LeadCreated", "StageMoved", "CustomerWon"]
    created = seen[0]
    assert isinstance(created, events.LeadCreated)
    assert (created.channel, created.by_role) == ("展会", "system")


def test_a_rolled_back_write_publishes_nothing(engine, seen):
    with pytest.raises(RuntimeError), session_scope(engine) as s:
        create_lead(s, LeadInput(name="A", email="a@x.cn"), actor=SYSTEM)
        raise RuntimeError("the save fails after the use case ran")

    assert seen == []


def test_a_failing_handler_is_logged_and_never_undoes_the_write(engine, seen, caplog):
    def broken(event: events.LeadCreated, engine: Engine) -> None:
        raise RuntimeError("the webhook is down")

    # The broken handler runs first, so the one after it shows that one failure stops no other.
    others = list(events._handlers[events.LeadCreated])
    for handler in others:
        events.unsubscribe(events.LeadCreated, handler)
    events.subscribe(events.LeadCreated, broken)
    for handler in others:
        events.subscribe(events.LeadCreated, handler)
    try:
        with caplog.at_level(logging.ERROR), session_scope(engine) as s:
            create_lead(s, LeadInput(name="A", email="a@x.cn"), actor=SYSTEM)
    finally:
        events.unsubscribe(events.LeadCreated, broken)

    assert "the write itself is committed" in caplog.text
    assert [type(event).__name__ for event in seen] == ["LeadCreated"]  # the other handler still ran
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 1

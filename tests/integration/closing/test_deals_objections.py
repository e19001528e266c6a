"""Opportunities, quotes and the idle-quote rule, objections with the playbook and their statistics."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.closing import objections, opportunities, quotes
from funnel.core.clock import utcnow
from funnel.core.errors import PermissionDenied, ValidationError
from funnel.store.models import Activity, User
from tests.integration.closing.helpers import customer


def test_opportunities_are_added_edited_and_checked(session: Session, role_users: dict[str, User]) -> None:
    rep = Actor.of(role_users["rep"])
    deal = customer(session, role_users["rep"])
    values = {"name": "ERP", "amount": "120,000", "expected_close": "2027-01-31", "probability": "70"}
    made = opportunities.save_opportunity(session, actor=rep, customer_id=deal.id, values=values)
    opportunities.save_opportunity(
        session,
        actor=rep,
        customer_id=deal.id,
        opportunity_id=made.id,
        values={**values, "next_step": "demo"},
    )
    table = opportunities.opportunities_table(session, actor=rep, customer_id=deal.id)
    assert table[["amount", "probability", "next_step"]].values.tolist() == [[120000.0, 70, "demo"]]
    with pytest.raises(ValidationError) as refused:
        opportunities.save_opportunity(
            session, actor=rep, customer_id=deal.id, values={"amount": "x", "probability": "170"}
        )
    assert {"amount", "probability"} <= set(refused.value.by_field())


def test_a_quote_idle_for_three_days_without_activity_is_found(
    session: Session, role_users: dict[str, User]
) -> None:
    rep = Actor.of(role_users["rep"])
    idle, busy = customer(session, role_users["rep"]), customer(session, role_users["rep"])
    with pytest.raises(ValidationError):
        quotes.add_quote(session, actor=rep, customer_id=idle.id, amount="100", valid_until=date(2000, 1, 1))
    for deal in (idle, busy):
        quote = quotes.add_quote(
            session, actor=rep, customer_id=deal.id, amount="90000", concessions="3 months"
        )
        quote.created_at = utcnow() - timedelta(days=4)
    session.add(Activity(customer_id=busy.id, kind="call", at=utcnow() - timedelta(days=1)))
    session.flush()
    found = quotes.idle_quotes(session, now=utcnow(), idle_days=3)
    assert [(q.customer_id, q.owner_id) for q in found] == [(idle.id, role_users["rep"].id)]
    assert quotes.idle_quotes(session, now=utcnow(), idle_days=5) == []


def test_objections_playbook_and_review(session: Session, role_users: dict[str, User]) -> None:
    rep, manager = Actor.of(role_users["rep"]), Actor.of(role_users["manager"])
    assert [c.code for c in objections.categories(session)][:2] == ["price", "delivery"]
    with pytest.raises(PermissionDenied):
        objections.set_playbook(session, actor=rep, category="price", answer="x")
    objections.set_playbook(session, actor=manager, category="price", answer="Offer 3 months of service")
    assert objections.playbook(session) == {"price": "Offer 3 months of service"}
    won, lost = customer(session, role_users["rep"]), customer(session, role_users["rep"])
    objections.log_objection(
        session, actor=rep, customer_id=won.id, category="price", words="贵", resolved=True
    )
    objections.log_objection(session, actor=rep, customer_id=lost.id, category="price", words="too dear")
    with pytest.raises(ValidationError) as refused:
        objections.log_objection(session, actor=rep, customer_id=lost.id, category="weather", words="")
    assert {"category", "detail"} <= set(refused.value.by_field())
    won.status, lost.status = "won", "lost"
    session.flush()
    counts = objections.objection_counts(session, actor=manager)
    assert objections.before_outcomes(counts).loc["price", ["won", "lost"]].tolist() == [1, 1]
    assert objections.resolved_share(counts).loc["price", "share_resolved"] == 0.5
    assert objections.objection_counts(session, actor=Actor.of(role_users["rep2"])).empty
    assert objections.objections_table(session, actor=rep, customer_id=won.id)["detail"].tolist() == ["贵"]

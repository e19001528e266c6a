"""The customer page shows closing's red flags (idle quote, proposal feedback due, overdue instalment) in
both languages, and not before their time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM, Actor
from funnel.capture.leads import LeadInput, create_lead
from funnel.closing import files, quotes
from funnel.core.clock import utcnow
from funnel.core.db import session_scope
from funnel.core.i18n import t
from funnel.store.models import User

CUSTOMER = "pages/customer.py"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def open_customer(app: AppTest, customer_id: int) -> AppTest:
    app.run()
    app.session_state["customer_id"] = customer_id
    return app.switch_page(CUSTOMER).run()


def errors(app: AppTest) -> list[str]:
    return [e.value for e in app.error]


def test_an_idle_quote_and_a_proposal_without_feedback_raise_red_flags_on_the_customer_page(
    app_as: Callable[[str], AppTest], app_engine: Engine
) -> None:
    with session_scope(app_engine) as session:
        rep = session.scalars(select(User).where(User.username == "rep")).one()
        deal = create_lead(
            session, LeadInput(name="Flag Co", email="flag@example.com", stage="proposal"), actor=SYSTEM
        )
        deal.owner_id = rep.id
        session.flush()
        customer_id = deal.id
        quote = quotes.add_quote(session, actor=Actor.of(rep), customer_id=customer_id, amount="9000")
        document = files.upload_document(
            session, actor=Actor.of(rep), customer_id=customer_id, filename="offer.pdf", data=PDF
        )
        files.send_proposal(session, actor=Actor.of(rep), document_id=document.id)

    fresh = open_customer(app_as("rep"), customer_id)
    assert not fresh.exception
    assert t("flag.quote_idle", "en") not in errors(fresh)
    assert t("flag.proposal_feedback_due", "en") not in errors(fresh)

    with session_scope(app_engine) as session:  # the quote and the proposal were given days ago
        session.merge(quote).created_at = utcnow() - timedelta(days=4)
        sent = session.merge(document)
        sent.sent_at, sent.feedback_due_at = utcnow() - timedelta(days=6), utcnow() - timedelta(days=1)

    late = open_customer(app_as("rep"), customer_id)
    assert not late.exception
    assert t("flag.quote_idle", "en") in errors(late)
    assert t("flag.proposal_feedback_due", "en") in errors(late)
    assert t("flag.instalment_overdue", "en") not in errors(late)

    chinese = app_as("rep").run()
    chinese.radio(key="lang").set_value("zh").run()
    chinese.session_state["customer_id"] = customer_id
    chinese.switch_page(CUSTOMER).run()
    assert t("flag.quote_idle", "zh") in errors(chinese)

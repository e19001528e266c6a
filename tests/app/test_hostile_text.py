"""User data is shown as text on every page: a lead named like a link or an image stays text for others."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM, Actor, allowed
from funnel.accounts.users import update_user
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.db import session_scope
from funnel.customers.stages import move_stage
from funnel.store.models import Objection
from tests.app.helpers import app_page_table, open_page

LINK = "[Re-login here](https://evil.example/login)"
IMAGE = "![t](https://evil.example/pixel.png)"
HTML = "<img src=x onerror=alert(1)>"
# Markdown that is live: a link or an image whose brackets and parentheses are not escaped.
LIVE = re.compile(r"(?<!\\)!?(?<!\\)\[[^\]]*(?<!\\)\]\((?<!\\)")


def _markdown_values(app: AppTest) -> list[str]:
    """Every string the page handed to an element that renders markdown."""
    kinds = ("markdown", "caption", "title", "header", "subheader", "success", "info", "warning", "error")
    return [str(element.value) for kind in kinds for element in getattr(app, kind)]


@pytest.fixture
def hostile(app_engine: Engine, accounts: dict[str, int]) -> int:
    with session_scope(app_engine) as session:
        update_user(session, "rep", actor=SYSTEM, display_name=IMAGE)
        customer = create_lead(
            session,
            LeadInput(name=LINK, company=IMAGE, email="evil@x.cn", owner_id=accounts["rep"], channel=LINK),
            actor=SYSTEM,
        )
        move_stage(session, customer_id=customer.id, to_stage="contact", actor=SYSTEM)
        move_stage(
            session, customer_id=customer.id, to_stage="lost", lost_reason="other", lost_note=f"{HTML} {LINK}",
            actor=SYSTEM,
        )  # fmt: skip
        session.add(Objection(customer_id=customer.id, category="price", stage="contact", detail=LINK))
        return customer.id


# (reader, page) for every page of app.py's table each reader may open; admin sees users and audit.
CASES = [
    (reader, page)
    for _, page, _, _, permission in app_page_table()
    for reader in ("leader", "manager", "rep", "admin")
    if allowed(Actor(user_id=1, username=reader, role=reader), permission)
]


@pytest.mark.parametrize(("reader", "page"), CASES)
def test_hostile_names_render_as_text_on_every_page(
    app_as: Callable[[str], AppTest], hostile: int, page: str, reader: str
) -> None:
    app = app_as(reader)
    app.run()
    if page == "pages/customer.py":
        app.session_state["customer_id"] = hostile
    open_page(app, page)
    assert not app.exception
    values = _markdown_values(app)
    assert values  # the page drew something
    offenders = [value for value in values if LIVE.search(value) or re.search(r"(?<!\\)<img", value)]
    assert offenders == []


def test_the_customer_page_shows_the_hostile_name_escaped(
    app_as: Callable[[str], AppTest], hostile: int
) -> None:
    app = app_as("leader")
    app.run()
    app.session_state["customer_id"] = hostile
    open_page(app, "pages/customer.py")
    heading = app.subheader[0].value
    assert "\\[Re-login here\\]\\(https://evil.example/login\\)" in heading

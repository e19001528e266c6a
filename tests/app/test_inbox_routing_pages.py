"""Inbox and Routing pages: the unread count, mark read, open the customer; rules saved with named errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM
from funnel.capture.leads import LeadInput, create_lead
from funnel.capture.routing_rules import current_rule_set
from funnel.core.db import session_scope
from funnel.inbox.notify import notify, unread_count
from tests.app.helpers import open_page

INBOX, ROUTING = "pages/inbox.py", "pages/routing.py"


def test_the_inbox_counts_lists_and_marks_read(
    app_as: Callable[[str], AppTest], app_engine: Engine, accounts: dict[str, int]
) -> None:
    with session_scope(app_engine) as session:
        customer = create_lead(session, LeadInput(name="Acme", email="a@example.com"), actor=SYSTEM)
        for text in ("one", "two"):
            notify(
                session, user_id=accounts["rep"], kind="test", params={"text": text}, customer_id=customer.id
            )
    app = open_page(app_as("rep"), INBOX)
    assert not app.exception
    assert any("2** unread" in m.value for m in app.sidebar.markdown)
    assert [m.value for m in app.main.markdown if "Test notification" in m.value] == [
        "**new** · Test notification: two",
        "**new** · Test notification: one",
    ]
    app.button(key="inbox_mark_all").click().run()
    with session_scope(app_engine) as session:
        assert unread_count(session, accounts["rep"]) == 0
    assert any("0** unread" in m.value for m in app.sidebar.markdown)


def test_a_rep_has_no_routing_page(app_as: Callable[[str], AppTest]) -> None:
    app = app_as("rep")
    app.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page(ROUTING)


def test_a_manager_saves_a_rule_set_and_a_bad_one_names_the_rule(
    app_as: Callable[[str], AppTest], app_engine: Engine
) -> None:
    app = open_page(app_as("manager"), ROUTING)
    assert not app.exception
    app.text_area(key="routing_toml").input('[[rule]]\nname = "web"\nchannel = ["web"]\nowner = "ghost"\n')
    app.button(key="routing_toml_submit").click().run()
    assert 'Rule 1 (web): there is no user "ghost"' in app.error[0].value
    assert str(app.text_area(key="routing_toml").value).startswith("[[rule]]")  # the input is kept
    app.text_area(key="routing_toml").input('[[rule]]\nname = "web"\nchannel = ["web"]\nowner = "rep2"\n')
    app.button(key="routing_toml_submit").click().run()
    assert not app.exception
    with session_scope(app_engine) as session:
        assert [r.owner for r in current_rule_set(session).rules] == ["rep2"]
    app.text_input(key="routing_test_channel").input("web")
    app.button(key="routing_test_submit").click().run()
    assert "rule 1: web" in app.success[0].value

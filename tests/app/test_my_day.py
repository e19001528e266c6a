"""My day and the customer page's task section under AppTest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM, Actor
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.clock import utcnow
from funnel.core.db import session_scope
from funnel.core.settings import get_settings
from funnel.store.models import Task, User
from funnel.timers import engine as timer_engine
from funnel.working.tasks import create_task

MY_DAY, CUSTOMER = "pages/my_day.py", "pages/customer.py"
AppAs = Callable[[str], AppTest]


def seed(engine: Engine, owner: int) -> int:
    with session_scope(engine) as s:
        customer = create_lead(
            s,
            LeadInput(name="Acme", email="acme@example.com", owner_id=owner, grade="A",
                      created_at=utcnow() - timedelta(hours=30)),
            actor=SYSTEM,
        )  # fmt: skip
        rep = Actor.of(s.get(User, owner))  # type: ignore[arg-type]
        create_task(
            s,
            actor=rep,
            title="Call Acme back",
            due_at=utcnow() - timedelta(hours=1),
            customer_id=customer.id,
        )
        return customer.id


def test_my_day_shows_the_reps_lists_and_a_row_opens_the_customer(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The A list's daily message goes out from CRM_A_DAILY_HOUR (08:00 by default) on the team's clock,
    # UTC in tests: pin it to midnight so the expected three unread messages do not depend on the hour.
    monkeypatch.setenv("CRM_A_DAILY_HOUR", "0")
    get_settings.cache_clear()
    timer_engine._last_run.clear()
    cid = seed(app_engine, accounts["rep"])
    app = app_as("rep")
    app.run()
    app.switch_page(MY_DAY).run()

    assert not app.exception
    values = {m.label: m.value for m in app.metric}
    assert values == {"Overdue": "1", "Due today": "0", "First contacts pending": "1", "A list": "1",
                      "Unread notifications": "3"}  # fmt: skip
    overdue = app.dataframe(key="myday_overdue").value
    assert "Call Acme back" in overdue.to_string()
    assert "myday_team" not in str(app.main)  # a rep has no team view

    app.session_state["myday_a_list"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()
    assert app.session_state["customer_id"] == cid


def test_a_manager_sees_the_team(app_as: AppAs, app_engine: Engine, accounts: dict[str, int]) -> None:
    seed(app_engine, accounts["rep"])
    app = app_as("manager")
    app.run()
    app.switch_page(MY_DAY).run()
    assert not app.exception
    # st.dataframe without selection carries no key under AppTest: find the team table by its column.
    [team] = [t.value for t in app.dataframe if "Speed to lead (median minutes)" in t.value.columns]
    assert list(team["Rep"]) == sorted(team["Rep"]) and len(team) >= 3  # manager, rep, rep2


def test_the_task_section_plans_completes_and_refuses_an_empty_title(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int]
) -> None:
    cid = seed(app_engine, accounts["rep"])
    app = app_as("rep")
    app.run()
    app.session_state["customer_id"] = cid
    app.switch_page(CUSTOMER).run()
    assert not app.exception

    app.button(key="task_add_submit").click().run()
    assert any("required" in e.value for e in app.error)  # the title, named; nothing saved

    app.text_input(key="task_title").input("Send the proposal")
    app.radio(key="task_when").set_value("tomorrow")
    app.button(key="task_add_submit").click().run()
    assert not app.exception
    with session_scope(app_engine) as s:
        titles = set(s.scalars(select(Task.title)))
    assert titles == {"Call Acme back", "Send the proposal"}

    app.button(key="task_done_submit").click().run()  # the first open task: the overdue one
    assert not app.exception
    with session_scope(app_engine) as s:
        done = s.scalar(select(Task.done_at).where(Task.title == "Call Acme back"))
    assert done is not None

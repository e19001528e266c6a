"""The dashboard counts only what the signed-in user may see: a rep their own, a manager everyone."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.db import session_scope
from tests.app.helpers import metric_values


def _seed(engine: Engine, accounts: dict[str, int]) -> None:
    with session_scope(engine) as session:
        for n, (owner, channel) in enumerate(
            [("rep", "官网"), ("rep2", "展会"), ("rep2", "展会"), ("rep2", "直播")]
        ):
            create_lead(
                session,
                LeadInput(name=f"L{n}", email=f"l{n}@x.cn", channel=channel, owner_id=accounts[owner]),
                actor=SYSTEM,
            )


def test_a_rep_counts_only_their_own_and_a_manager_counts_all(
    app_as: Callable[[str], AppTest], app_engine: Engine, accounts: dict[str, int]
) -> None:
    _seed(app_engine, accounts)

    manager = app_as("manager").run()
    rep = app_as("rep").run()
    manager_again = app_as("manager").run()  # the rep's cached figures are not served to the manager

    assert metric_values(manager)["Leads"] == "4"
    assert metric_values(rep)["Leads"] == "1"
    assert metric_values(manager_again)["Leads"] == "4"
    assert rep.multiselect(key="dash_channels").options == ["Website"]  # 官网; no other rep's channels either

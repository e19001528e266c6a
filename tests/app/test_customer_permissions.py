"""The customer page offers only what a role may do, and shows nothing of a customer the user may not see."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM, Actor
from funnel.accounts.users import update_user
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.db import session_scope
from funnel.store.models import User

CUSTOMER = "pages/customer.py"
AppAs = Callable[[str], AppTest]
SECRET = "Secret Deal of rep2"


@pytest.fixture
def customers(app_engine: Engine, accounts: dict[str, int]) -> dict[str, int]:
    """rep's own lead and rep2's lead (named SECRET, with a company and a phone only rep2 may see)."""
    ids = {}
    with session_scope(app_engine) as session:
        for owner, name, email in (("rep", "Own lead", "own@x.cn"), ("rep2", SECRET, "secret@x.cn")):
            actor = Actor.of(session.get(User, accounts[owner]))  # type: ignore[arg-type]
            lead = LeadInput(
                name=name, email=email, company=f"{name} Co", phone="13900001111" if owner == "rep2" else None
            )
            ids[owner] = create_lead(session, lead, actor=actor).id
    return ids


def texts(node: Any) -> Iterator[str]:
    """Every text the page drew: element values, labels, captions and table cells."""
    for name in ("value", "label", "body", "help", "placeholder"):
        try:
            value = getattr(node, name, None)
        except Exception:  # some elements raise for attributes they do not have
            value = None
        if isinstance(value, str):
            yield value
        elif hasattr(value, "to_csv"):
            yield value.to_csv()
    for child in (getattr(node, "children", None) or {}).values():
        yield from texts(child)


def page_text(app: AppTest) -> str:
    return "\n".join([*texts(app.main), *texts(app.sidebar)])


def open_customer(app: AppTest, customer_id: int) -> AppTest:
    app.run()
    app.session_state["customer_id"] = customer_id
    return app.switch_page(CUSTOMER).run()


def test_a_rep_opening_another_reps_customer_sees_a_permission_error_and_none_of_its_data(
    app_as: AppAs, customers: dict[str, int]
) -> None:
    app = open_customer(app_as("rep"), customers["rep2"])
    assert not app.exception
    assert "You are not allowed to do this (customer.read)" in app.error[0].value
    text = page_text(app)
    assert SECRET not in text
    assert "13900001111" not in text
    assert not app.text_input
    assert not app.dataframe


def test_a_link_to_another_reps_customer_is_refused_the_same_way(
    app_as: AppAs, customers: dict[str, int]
) -> None:
    app = app_as("rep").run()
    app.query_params["id"] = str(customers["rep2"])
    app.switch_page(CUSTOMER).run()
    assert "not allowed" in app.error[0].value
    assert SECRET not in page_text(app)


def test_an_unknown_customer_id_says_it_does_not_exist(app_as: AppAs, customers: dict[str, int]) -> None:
    app = open_customer(app_as("rep"), 999_999)
    assert not app.exception
    assert "does not exist" in app.warning[0].value


def test_a_leader_reads_the_customer_without_edit_move_assign_or_delete(
    app_as: AppAs, customers: dict[str, int]
) -> None:
    app = open_customer(app_as("leader"), customers["rep2"])
    assert not app.exception
    assert SECRET in app.subheader[0].value
    assert "13900001111" in page_text(
        app
    )  # page_text sees table cells: the refusal tests above mean something
    assert "can read this customer but not change it" in app.info[0].value
    widget_keys = {w.key for w in [*app.text_input, *app.selectbox, *app.button, *app.checkbox]}
    assert not {"cust_edit_name", "cust_move_to", "cust_assign", "cust_share", "cust_delete"} & widget_keys
    assert "Own lead Co" not in page_text(app)  # a different customer's data is not drawn either


def test_a_rep_can_edit_and_move_but_not_assign_share_or_delete(
    app_as: AppAs, customers: dict[str, int]
) -> None:
    app = open_customer(app_as("rep"), customers["rep"])
    keys = {w.key for w in [*app.text_input, *app.selectbox, *app.button, *app.checkbox]}
    assert {"cust_edit_name", "cust_move_to", "cust_move_submit"} <= keys
    assert not {"cust_assign", "cust_share", "cust_delete"} & keys


def test_delivery_cannot_open_an_open_lead(app_as: AppAs, customers: dict[str, int]) -> None:
    app = open_customer(app_as("delivery"), customers["rep"])
    assert "not allowed" in app.error[0].value
    assert "Own lead" not in page_text(app)


def test_the_leads_list_of_a_rep_does_not_name_another_reps_customer(
    app_as: AppAs, customers: dict[str, int]
) -> None:
    app = app_as("rep").run()
    app.switch_page("pages/leads.py").run()
    app.text_input(key="leads_search").input("13900001111").run()  # rep2's contact's phone
    assert SECRET not in page_text(app)
    assert "No customers match" in app.info[0].value


def test_delivery_opens_a_won_customer_and_sees_its_order_and_payments(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int]
) -> None:
    from datetime import date

    from funnel.store.models import Contract, Payment

    with session_scope(app_engine) as session:
        won = create_lead(
            session,
            LeadInput(name="Signed Co", email="signed@x.cn", status="won", amount="80000"),
            actor=SYSTEM,
        )
        session.add(
            Contract(customer_id=won.id, contract_no="HT-2026-007", amount=80000, signed_on=date(2026, 11, 2))
        )
        session.add(Payment(customer_id=won.id, amount=30000, received_on=date(2026, 11, 9)))
        won_id = won.id

    app = open_customer(app_as("delivery"), won_id)

    assert not app.exception
    assert {"Contracts (合同)", "Payments (回款)"} <= {h.value for h in app.subheader}
    text = page_text(app)
    assert "HT-2026-007" in text
    assert "30,000.00" in text
    assert "cust_edit_name" not in {w.key for w in app.text_input}  # delivery reads, it does not edit


def test_a_team_manager_is_offered_only_their_teams_reps_to_assign_and_share_with(
    app_as: AppAs, app_engine: Engine, customers: dict[str, int]
) -> None:
    with session_scope(app_engine) as session:
        for username, team in (("manager", "east"), ("rep", "east"), ("rep2", "west"), ("admin", "west")):
            update_user(session, username, actor=SYSTEM, team=team)

    app = open_customer(app_as("manager"), customers["rep"])

    assert not app.exception
    # Not rep2 nor the admin (team west), nor the leader or delivery (who do not work customers); the
    # owner, rep, is not offered as a new owner.
    assert app.selectbox(key="cust_assign").options == ["manager · Sales manager"]
    assert app.selectbox(key="cust_share").options == ["manager · Sales manager"]

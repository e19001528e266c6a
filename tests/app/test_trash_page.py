"""The deleted & archived page under AppTest: a manager deletes a customer on its page, an admin restores
it; a signed customer cannot be deleted (a clear message) but is archived and unarchived here."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM, Actor
from funnel.capture.leads import LeadInput, create_lead
from funnel.closing import archive, contracts
from funnel.core.db import session_scope
from funnel.store.models import Customer, User
from tests.app.helpers import app_page_table, open_page

TRASH, CUSTOMER = "pages/trash.py", "pages/customer.py"
AppAs = Callable[[str], AppTest]


def a_customer(engine: Engine, name: str, owner: str = "rep") -> tuple[int, str]:
    with session_scope(engine) as session:
        user = session.scalars(select(User).where(User.username == owner)).one()
        made = create_lead(
            session,
            LeadInput(name=name, email=f"{name.lower().replace(' ', '-')}@example.com", stage="proposal"),
            actor=SYSTEM,
        )
        made.owner_id = user.id
        session.flush()
        return made.id, made.customer_no


def sign(engine: Engine, customer_id: int, accounts: dict[str, int]) -> None:
    with session_scope(engine) as session:
        manager = Actor.of(session.get(User, accounts["manager"]))  # type: ignore[arg-type]
        draft = contracts.create_contract(session, actor=manager, customer_id=customer_id, amount="50000")
        contracts.submit_contract(session, actor=manager, contract_id=draft.id)
        contracts.approve_contract(session, actor=manager, contract_id=draft.id)


def delete_on_its_page(app: AppTest, customer_id: int) -> AppTest:
    app.run()
    app.session_state["customer_id"] = customer_id
    app.switch_page(CUSTOMER).run()
    app.checkbox(key="cust_delete_confirm").check().run()
    return app.button(key="cust_delete").click().run()


def test_the_page_is_an_admin_page_of_the_menu() -> None:
    assert (
        "admin",
        TRASH,
        "nav.trash",
        ":material/restore_from_trash:",
        "customer.restore",
    ) in app_page_table()


def test_an_admin_restores_a_customer_a_manager_deleted(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int]
) -> None:
    customer_id, number = a_customer(app_engine, "Acme")
    app = open_page(app_as("admin"), TRASH)
    assert not app.exception
    assert "No deleted customer can be restored." in [i.value for i in app.info]

    deleted = delete_on_its_page(app_as("manager"), customer_id)
    assert not deleted.exception and "was deleted" in deleted.success[0].value

    app = open_page(app_as("admin"), TRASH)
    assert not app.exception
    assert app.selectbox(key="trash_pick").options == [f"{number} · Acme"]
    app.button(key="trash_restore").click().run()
    assert not app.exception and not app.error
    assert f"Customer {number} is back with its records." in app.success[0].value
    with session_scope(app_engine) as session:
        restored = session.get(Customer, customer_id)
        assert restored is not None and restored.customer_no == number
    assert "No deleted customer can be restored." in [i.value for i in app.info]


def test_a_signed_customer_cannot_be_deleted_but_is_archived_and_unarchived_here(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int]
) -> None:
    customer_id, number = a_customer(app_engine, "Signed Co")
    sign(app_engine, customer_id, accounts)

    refused = delete_on_its_page(app_as("manager"), customer_id)
    assert not refused.exception
    assert f"{number} has a signed contract or a payment: it cannot be deleted, only archived." in [
        e.value for e in refused.error
    ]
    with session_scope(app_engine) as session:
        assert session.get(Customer, customer_id) is not None
        manager = Actor.of(session.get(User, accounts["manager"]))  # type: ignore[arg-type]
        archive.archive_customer(session, actor=manager, customer_id=customer_id)

    app = open_page(app_as("admin"), TRASH)
    assert not app.exception
    assert app.selectbox(key="trash_pick_archived").options == [f"{number} · Signed Co"]
    app.button(key="trash_unarchive").click().run()
    assert not app.exception and not app.error
    assert f"Customer {number} is no longer archived." in app.success[0].value
    with session_scope(app_engine) as session:
        assert session.get(Customer, customer_id).archived_at is None  # type: ignore[union-attr]
    assert "No customer is archived." in [i.value for i in app.info]


def test_a_manager_is_not_offered_it_and_it_speaks_chinese(app_as: AppAs) -> None:
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        open_page(app_as("manager"), TRASH)  # not in a manager's menu: only admins restore
    app = app_as("admin").run()
    app.radio(key="lang").set_value("zh").run()
    app.switch_page(TRASH).run()
    assert not app.exception and app.title[0].value == "已删除与已归档的客户"

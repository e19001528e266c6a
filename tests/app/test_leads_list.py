"""The leads list's filters and sorts (and their round trip through the address bar), bulk actions, the board."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select, update
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM
from funnel.audit.read import customer_history
from funnel.core.clock import utcnow
from funnel.core.db import session_scope
from funnel.customers.edit import update_customer
from funnel.customers.lists import save_value
from funnel.store.models import Customer, CustomerTag, StageEvent, User
from tests.app.test_leads_pages import AppAs, actor_of, add_lead, listed_names, open_leads

BOARD = "pages/board.py"


@pytest.fixture
def book(app_engine: Engine, accounts: dict[str, int]) -> dict[str, int]:
    """Four leads of rep and rep2 with grades, scores, channels, a tag and different ages."""
    ids = {
        "Alpha": add_lead(app_engine, accounts["rep"], "Alpha", grade="A", channel="官网"),
        "Beta": add_lead(app_engine, accounts["rep2"], "Beta", grade="B", channel="展会"),
        "Gamma": add_lead(app_engine, accounts["rep"], "Gamma", created_at=utcnow() - timedelta(days=3)),
        "Delta": add_lead(app_engine, accounts["rep2"], "Delta", stage="qualify"),
    }
    with session_scope(app_engine) as session:
        for name, score in (("Alpha", 30), ("Beta", 80), ("Gamma", 55), ("Delta", 95)):
            session.execute(update(Customer).where(Customer.id == ids[name]).values(score=score))
        save_value(session, "tag", code="vip", name_en="VIP", name_zh="重要客户")
    return ids


def test_the_filters_are_read_from_the_address_bar_and_written_back(
    app_as: AppAs, book: dict[str, int], accounts: dict[str, int]
) -> None:
    app = app_as("manager")
    app.query_params.update(
        {"owner": str(accounts["rep"]), "score_min": "20", "sort": "score", "sla": "due", "grade": ["A"]}
    )
    app.run()
    app = app.switch_page("pages/leads.py").run()
    assert not app.exception
    assert app.selectbox(key="leads_owner").value == accounts["rep"]
    assert app.number_input(key="leads_score_min").value == 20
    assert (app.selectbox(key="leads_sort").value, app.selectbox(key="leads_sla").value) == ("score", "due")
    assert listed_names(app) == ["Alpha"]
    assert "1 customers" in app.markdown[0].value

    app.multiselect(key="leads_grade").set_value([]).run()
    app.selectbox(key="leads_sla").set_value(None).run()  # the owner's other (overdue) lead comes in
    assert app.dataframe(key="leads_table").value["name"].tolist() == ["Gamma", "Alpha"]  # by score
    app.selectbox(key="leads_owner").set_value(None).run()
    app.number_input(key="leads_score_max").set_value(60).run()
    assert app.dataframe(key="leads_table").value["name"].tolist() == ["Gamma", "Alpha"]
    params = app.query_params
    assert params.get("sort") in ("score", ["score"]) and params.get("score_max") in ("60", ["60"])
    assert "owner" not in params and "grade" not in params


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"channel": ["官网"]}, ["Alpha"]),
        ({"stage": ["qualify"]}, ["Delta"]),
        ({"sla": "done"}, ["Delta"]),
        ({"from": (utcnow() - timedelta(days=1)).date().isoformat()}, ["Alpha", "Beta", "Delta"]),
        ({"to": (utcnow() - timedelta(days=2)).date().isoformat()}, ["Gamma"]),
        ({"q": "Gam"}, ["Gamma"]),
        ({"sort": "nonsense", "grade": ["Z"], "owner": "x"}, ["Alpha", "Beta", "Delta", "Gamma"]),  # ignored
    ],
)
def test_each_filter_from_a_link_narrows_the_list(
    app_as: AppAs, book: dict[str, int], params: dict[str, object], expected: list[str]
) -> None:
    app = app_as("manager")
    app.query_params.update(params)
    # Straight onto the list, as a shared link opens it (the dashboard, the default page, would read
    # and rewrite the address with its own filters first).
    app = app.switch_page("pages/leads.py").run()
    assert not app.exception
    assert listed_names(app) == expected


def test_the_tag_and_team_filters(
    app_as: AppAs, app_engine: Engine, book: dict[str, int], accounts: dict[str, int]
) -> None:
    with session_scope(app_engine) as session:
        session.add(CustomerTag(customer_id=book["Beta"], tag_id=_tag_id(session)))
        session.execute(update(User).where(User.id == accounts["rep2"]).values(team="north"))
        session.execute(update(Customer).where(Customer.owner_id == accounts["rep2"]).values(team="north"))
    app = open_leads(app_as("manager"))
    app.selectbox(key="leads_tag").set_value("vip").run()
    assert listed_names(app) == ["Beta"]
    assert app.query_params.get("tag") in ("vip", ["vip"])
    app.selectbox(key="leads_tag").set_value(None).run()
    app.selectbox(key="leads_team").set_value("north").run()
    assert listed_names(app) == ["Beta", "Delta"]
    assert app.query_params.get("team") in ("north", ["north"])


def _tag_id(session) -> int:  # type: ignore[no-untyped-def]
    from funnel.store.models import ListItem

    return session.scalar(select(ListItem.id).where(ListItem.list_name == "tag", ListItem.code == "vip"))


def test_a_contradicting_score_range_is_named_and_nothing_is_listed(
    app_as: AppAs, book: dict[str, int]
) -> None:
    app = open_leads(app_as("manager"))
    app.number_input(key="leads_score_min").set_value(70).run()
    app.number_input(key="leads_score_max").set_value(10).run()
    assert not app.exception
    assert "Score from" in app.error[0].value
    assert not app.dataframe


def test_paging_counts_all_matches_and_a_new_filter_starts_at_page_one(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int]
) -> None:
    with session_scope(app_engine) as session:
        from tests.factories import add_leads

        add_leads(session, {"lead": 130})
    app = open_leads(app_as("admin"))
    assert "130 customers" in app.markdown[0].value and "page 1 of 2" in app.markdown[0].value
    assert len(app.dataframe(key="leads_table").value) == 100
    app.number_input(key="leads_page").set_value(2).run()
    assert len(app.dataframe(key="leads_table").value) == 30
    assert app.query_params.get("page") in ("2", ["2"])
    app.selectbox(key="leads_sort").set_value("oldest").run()
    assert app.number_input(key="leads_page").value == 1


# ---- bulk actions


def select_rows(app: AppTest, names: list[str]) -> AppTest:
    table = list(app.dataframe(key="leads_table").value["name"])
    rows = [table.index(name) for name in names]
    app.session_state["leads_table"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return app.run()


def test_a_rep_is_offered_no_bulk_actions(app_as: AppAs, book: dict[str, int]) -> None:
    app = open_leads(app_as("rep"))
    assert not app.exception
    assert "leads_bulk_mode" not in [toggle.key for toggle in app.toggle]


def test_a_manager_reassigns_the_selected_customers_and_one_changed_meanwhile_is_refused(
    app_as: AppAs, app_engine: Engine, book: dict[str, int], accounts: dict[str, int]
) -> None:
    app = open_leads(app_as("manager"))
    app.toggle(key="leads_bulk_mode").set_value(True).run()
    app = select_rows(app, ["Alpha", "Gamma", "Beta"])
    assert "3 selected" in app.caption[-1].value or any("3 selected" in c.value for c in app.caption)
    app.selectbox(key="leads_bulk_action").set_value("reassign").run()
    app.selectbox(key="leads_bulk_owner").set_value(accounts["rep2"]).run()
    with session_scope(app_engine) as session:  # a colleague edits Gamma after the list was drawn
        update_customer(
            session,
            actor=actor_of(app_engine, accounts["rep"]),
            customer_id=book["Gamma"],
            changes={"company": "Gamma Ltd"},
            expected_version=1,
        )
    app.button(key="leads_bulk_apply").click().run()
    assert not app.exception
    message = app.success[0].value
    assert "1 changed, 1 unchanged, 1 refused" in message  # Beta was rep2's already
    assert (
        "rep saved" in app.warning[0].value and book_number(app_engine, book["Gamma"]) in app.warning[0].value
    )
    with session_scope(app_engine) as session:
        owners = dict(session.execute(select(Customer.name, Customer.owner_id)).all())
        history = customer_history(session, actor=SYSTEM, customer_id=book["Alpha"])
    assert (owners["Alpha"], owners["Beta"], owners["Gamma"]) == (
        accounts["rep2"],
        accounts["rep2"],
        accounts["rep"],
    )
    assert "owner_id" in history["field"].tolist()


def test_a_manager_tags_untags_and_grades_the_selected_customers(
    app_as: AppAs, app_engine: Engine, book: dict[str, int]
) -> None:
    app = open_leads(app_as("manager"))
    app.toggle(key="leads_bulk_mode").set_value(True).run()
    app = select_rows(app, ["Alpha", "Beta"])
    app.selectbox(key="leads_bulk_action").set_value("tag_add").run()
    app.selectbox(key="leads_bulk_tag").set_value("vip").run()
    app.button(key="leads_bulk_apply").click().run()
    assert "2 changed, 0 unchanged, 0 refused" in app.success[0].value
    with session_scope(app_engine) as session:
        tags = dict(session.execute(select(Customer.name, Customer.tags)).all())
    assert (tags["Alpha"], tags["Beta"], tags["Gamma"]) == ("vip", "vip", None)

    app = select_rows(app, ["Alpha"])
    app.selectbox(key="leads_bulk_action").set_value("tag_remove").run()
    app.selectbox(key="leads_bulk_tag").set_value("vip").run()
    app.button(key="leads_bulk_apply").click().run()
    assert "1 changed" in app.success[0].value

    app = select_rows(app, ["Alpha", "Beta"])
    app.selectbox(key="leads_bulk_action").set_value("grade").run()
    app.selectbox(key="leads_bulk_grade").set_value("C").run()
    app.button(key="leads_bulk_apply").click().run()
    assert "Set the grade: 2 changed" in app.success[0].value
    with session_scope(app_engine) as session:
        rows = dict(session.execute(select(Customer.name, Customer.grade)).all())
        history = customer_history(session, actor=SYSTEM, customer_id=book["Beta"])
    assert (rows["Alpha"], rows["Beta"]) == ("C", "C")
    assert {"grade", "tags"} <= set(history["field"])


# ---- the board


def test_the_board_counts_each_stage_over_the_filter_and_moves_a_card(
    app_as: AppAs, app_engine: Engine, book: dict[str, int], accounts: dict[str, int]
) -> None:
    app = app_as("manager").run()
    app = app.switch_page(BOARD).run()
    assert not app.exception
    assert app.title[0].value == "Board"
    with session_scope(app_engine) as session:
        direct = dict(
            session.execute(
                select(Customer.stage, func.count()).where(Customer.status == "open").group_by(Customer.stage)
            ).all()
        )
    captions = [c.value for c in app.caption]
    assert f"{direct['lead']} · 0" in captions and f"{direct['qualify']} · 0" in captions

    app.button(key=f"board_next_{book['Alpha']}").click().run()
    assert not app.exception
    assert "moved to First contact" in app.success[0].value
    with session_scope(app_engine) as session:
        moved = session.get(Customer, book["Alpha"])
        assert moved is not None and moved.stage == "contact"
        assert (
            session.scalar(
                select(func.count()).select_from(StageEvent).where(StageEvent.customer_id == book["Alpha"])
            )
            == 2
        )

    app.multiselect(key="board_grade").set_value(["B"]).run()  # the filter narrows the counts
    assert "1 · 0" in [c.value for c in app.caption]
    assert app.query_params.get("grade") in ("B", ["B"])


def test_a_card_opens_the_customer_page(app_as: AppAs, book: dict[str, int]) -> None:
    app = app_as("rep").run()
    app = app.switch_page(BOARD).run()
    assert f"board_open_{book['Beta']}" not in [b.key for b in app.button]  # rep2's customer is not shown
    app.button(key=f"board_open_{book['Alpha']}").click().run()
    assert not app.exception
    assert app.title[0].value == "Customer"
    assert app.session_state["customer_id"] == book["Alpha"]


def test_a_link_to_a_page_past_the_end_shows_the_last_page(app_as: AppAs, book: dict[str, int]) -> None:
    app = app_as("manager")
    app.query_params["page"] = "9"
    app.run()
    app = app.switch_page("pages/leads.py").run()
    assert not app.exception
    assert app.number_input(key="leads_page").value == 1
    assert listed_names(app) == ["Alpha", "Beta", "Delta", "Gamma"]


def test_a_board_move_past_a_blocking_stage_is_refused_and_a_warning_stage_warns(
    app_as: AppAs, app_engine: Engine, book: dict[str, int], accounts: dict[str, int]
) -> None:
    app = app_as("manager").run()
    app = app.switch_page(BOARD).run()
    app.button(key=f"board_next_{book['Delta']}").click().run()  # qualify blocks without its exit fields
    assert not app.exception
    assert not app.success
    assert "Budget range" in app.error[0].value
    with session_scope(app_engine) as session:
        delta = session.get(Customer, book["Delta"])
        assert delta is not None and delta.stage == "qualify"

    app.button(key=f"board_next_{book['Alpha']}").click().run()  # lead -> contact
    app.button(key=f"board_next_{book['Alpha']}").click().run()  # contact warns: use case is empty
    assert "moved to Needs qualified" in app.success[0].value
    assert "exit fields empty: Use case" in app.success[0].value


def test_the_board_speaks_chinese(app_as: AppAs, book: dict[str, int]) -> None:
    app = app_as("manager").run()
    app.radio(key="lang").set_value("zh").run()
    app = app.switch_page(BOARD).run()
    assert not app.exception
    assert app.title[0].value == "阶段看板"
    assert any("线索获取" in m.value for m in app.markdown)


def book_number(engine: Engine, customer_id: int) -> str:
    with session_scope(engine) as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        return customer.customer_no


def test_the_list_and_the_board_open_each_other_with_the_same_filters(
    app_as: AppAs, book: dict[str, int]
) -> None:
    app = open_leads(app_as("manager"))
    app.multiselect(key="leads_grade").set_value(["A"]).run()
    app.button(key="leads_to_board").click().run()
    assert not app.exception
    assert app.title[0].value == "Board"
    assert app.multiselect(key="board_grade").value == ["A"]
    assert f"board_open_{book['Alpha']}" in [b.key for b in app.button]
    assert f"board_open_{book['Beta']}" not in [b.key for b in app.button]
    # AppTest keeps running the page it was switched to by hand, not the one the script switched to.
    app = app.switch_page(BOARD).run()
    app.multiselect(key="board_grade").set_value(["B"]).run()
    app.button(key="board_to_list").click().run()
    assert app.title[0].value == "Leads"
    assert listed_names(app) == ["Beta"]

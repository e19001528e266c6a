"""A rep opens a new lead, logs a call from the script, the red flag clears, the next step is a task;
then grades it A on the grading page (audited)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM, Actor
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.clock import utcnow
from funnel.core.db import session_scope
from funnel.store.models import Activity, AuditLog, Customer, Task, User

AppAs = Callable[[str], AppTest]


def _new_lead(engine: Engine, owner_id: int, *, stage: str | None = None) -> int:
    with session_scope(engine) as session:
        lead = create_lead(
            session,
            LeadInput(name="王五", email="w5@x.cn", owner_id=owner_id, stage=stage),
            actor=Actor.of(session.get(User, owner_id)),  # type: ignore[arg-type]
        )
        lead.created_at = utcnow() - timedelta(hours=30)  # past the 24 h SLA: flagged red
        return lead.id


def test_a_rep_logs_a_call_from_the_script_and_the_red_flag_clears(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int]
) -> None:
    cid = _new_lead(app_engine, accounts["rep"])
    app = app_as("rep")
    app.run()
    app.session_state["customer_id"] = cid
    app.switch_page("pages/customer.py").run()
    assert any(":material/timer_off:" in str(e.icon) for e in app.error)  # the red flag
    app.text_area(key="act_needs").input("想统一管理线索")  # under 您现在主要是想解决哪方面的问题?
    app.text_area(key="act_budget").input("10-30万")
    app.text_area(key="act_next_step").input("3天内约二次电话")
    app.button(key="act_save").click().run()
    assert not app.exception
    assert not any(":material/timer_off:" in str(e.icon) for e in app.error)
    with session_scope(app_engine) as session:
        customer = session.get(Customer, cid)
        assert (
            customer is not None and customer.first_contacted_at is not None and customer.stage == "contact"
        )
        activity = session.scalar(select(Activity).where(Activity.customer_id == cid))
        assert activity is not None and (activity.kind, activity.needs) == ("call", "想统一管理线索")
        task = session.scalar(select(Task).where(Task.customer_id == cid))
        assert task is not None and task.title == "3天内约二次电话" and task.owner_id == accounts["rep"]


def test_an_activity_without_content_is_refused_with_the_input_kept(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int]
) -> None:
    cid = _new_lead(app_engine, accounts["rep"])
    app = app_as("rep")
    app.run()
    app.session_state["customer_id"] = cid
    app.switch_page("pages/customer.py").run()
    app.text_area(key="act_next_step").input("demo")
    app.radio(key="act_due").set_value("date")
    app.button(key="act_save").click().run()
    assert any("Give the next step a due time" in e.value for e in app.error)
    assert app.text_area(key="act_next_step").value == "demo"


def test_the_grading_page_grades_a_customer_a_and_audits_it(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int]
) -> None:
    cid = _new_lead(app_engine, accounts["rep"], stage="qualify")
    with session_scope(app_engine) as session:
        create_lead(
            session,
            LeadInput(name="not mine", email="nm@x.cn", owner_id=accounts["rep2"], stage="qualify"),
            actor=SYSTEM,
        )
    app = app_as("rep")
    app.run()
    app.switch_page("pages/grading.py").run()
    assert not app.exception
    frames = [e.value for e in app.dataframe]
    assert any("王五" in frame.to_csv() and "not mine" not in frame.to_csv() for frame in frames)
    assert any("Strong intent" in m.value for m in app.markdown)
    state_key = "grade_editor"
    app.session_state[state_key] = {"edited_rows": {0: {"grade": "A"}}, "added_rows": [], "deleted_rows": []}
    app.run()
    app.button(key="grade_save").click().run()
    assert not app.exception
    with session_scope(app_engine) as session:
        assert session.get(Customer, cid).grade == "A"  # type: ignore[union-attr]
        row = session.scalar(select(AuditLog).where(AuditLog.action == "grade"))
        assert row is not None and row.user_id == accounts["rep"]


def test_a_manager_rewrites_a_call_script_question_and_the_customer_page_asks_it(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int]
) -> None:
    cid = _new_lead(app_engine, accounts["rep"])
    app = app_as("admin")
    app.run()
    app.switch_page("pages/grading.py").run()
    app.selectbox(key="script_stage").set_value("lead")
    app.selectbox(key="script_field").set_value("budget")
    app.text_input(key="script_en").input("Which budget did the board approve?")
    app.text_input(key="script_zh").input("董事会批了多少预算?")
    app.button(key="script_save").click().run()
    assert not app.exception
    rep = app_as("rep")
    rep.run()
    rep.session_state["customer_id"] = cid
    rep.switch_page("pages/customer.py").run()
    assert rep.text_area(key="act_budget").label == "Which budget did the board approve?"
    assert rep.text_area(key="act_needs").label == "What problem are you mainly trying to solve?"


def test_speed_to_lead_switches_to_channels(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int]
) -> None:
    _new_lead(app_engine, accounts["rep"], stage="qualify")
    app = app_as("rep")
    app.run()
    app.switch_page("pages/grading.py").run()
    app.radio(key="speed_by").set_value("channel").run()
    assert not app.exception
    assert any("Channel" in list(frame.value.columns) for frame in app.dataframe)


def test_the_grading_page_filters_by_budget_band_and_the_dashboard_reports_bands_and_competitors(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int]
) -> None:
    from funnel.customers.lists_seed import seed_lists

    with session_scope(app_engine) as session:
        seed_lists(session)
        for n, (band, rivals) in enumerate(
            (("10-30万", "销售易"), ("10-30万", "销售易、HubSpot"), ("100万以上", None))
        ):
            lead = create_lead(
                session,
                LeadInput(name=f"Q{n}", email=f"q{n}@x.cn", owner_id=accounts["rep"], stage="qualify"),
                actor=SYSTEM,
            )
            lead.budget_range, lead.competitors = band, rivals
    app = app_as("manager")
    app.run()
    assert not app.exception
    # (st.dataframe without selection carries no key under AppTest: found by their values)
    tables = [
        dict(zip(df.value["value"], df.value["customers"], strict=True))
        for df in app.dataframe
        if set(df.value.columns) == {"value", "customers"}
    ]
    assert {"100k–300k": 2, "Over 1M": 1} in tables
    assert {"Neocrm": 2, "HubSpot": 1} in tables
    app.switch_page("pages/grading.py").run()
    app.selectbox(key="grade_band").set_value("100万以上").run()
    assert not app.exception
    shown = [e.value.to_csv() for e in app.dataframe]
    assert any("Q2" in csv and "Q0" not in csv for csv in shown)

"""Lead entry: a valid lead is stored and counted; errors show under their field and keep the input."""

from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM
from funnel.analytics.rollups import customer_count
from funnel.core.db import session_scope
from funnel.customers.duplicates import duplicate_match
from pages._shared import common
from tests.app.helpers import DASHBOARD, LEAD_ENTRY, element_after, metric_values, open_page, seed


def fill(app: AppTest, **values: str) -> AppTest:
    for name, value in values.items():
        app.text_input(key=f"lead_{name}").input(value)
    return app


def submit(app: AppTest) -> AppTest:
    return app.button(key="lead_submit").click().run()


def test_a_lead_typed_into_the_form_is_stored_and_counted_on_the_dashboard(
    app: AppTest, app_engine: Engine
) -> None:
    open_page(app, DASHBOARD)  # caches the empty dashboard, which the save must invalidate
    open_page(app, LEAD_ENTRY)
    fill(app, name="华东机电采购项目", company="上海华东机电有限公司", phone="138 1234 5678")
    app.selectbox(key="lead_channel").set_value("展会")
    app.selectbox(key="lead_stage").set_value("qualify")
    submit(app)
    assert not app.exception
    assert not app.error
    with session_scope(app_engine) as session:
        assert customer_count(session, actor=SYSTEM) == 1
        match = duplicate_match(session, {"phone": "13812345678"})
        assert match is not None
        stored = match.customer
        assert (stored.name, stored.channel, stored.stage) == ("华东机电采购项目", "展会", "qualify")
        customer_no = stored.customer_no
    assert customer_no in app.success[0].value
    assert app.text_input(key="lead_name").value == ""  # cleared for the next lead
    assert app.selectbox(key="lead_stage").value == "lead"
    app.switch_page(DASHBOARD).run()
    assert metric_values(app)["Leads"] == "1"


def test_an_invalid_phone_is_reported_under_the_phone_field_and_the_input_is_kept(app: AppTest) -> None:
    open_page(app, LEAD_ENTRY)
    fill(app, name="Acme", company="Acme Ltd", phone="12345")
    submit(app)
    assert not app.exception
    below_phone = element_after(app, "lead_phone")
    assert below_phone.type == "error"
    assert "is not a valid phone number" in below_phone.value
    assert app.text_input(key="lead_name").value == "Acme"
    assert app.text_input(key="lead_company").value == "Acme Ltd"
    assert app.text_input(key="lead_phone").value == "12345"
    assert not app.success


def test_a_lead_without_name_or_contact_gets_an_error_on_each_field(app: AppTest, app_engine: Engine) -> None:
    open_page(app, LEAD_ENTRY)
    fill(app, company="Acme Ltd")
    submit(app)
    below_name = element_after(app, "lead_name")
    assert (below_name.type, below_name.value) == ("error", "This field is required.")
    assert "at least one of phone, e-mail or WeChat" in element_after(app, "lead_phone").value
    with session_scope(app_engine) as session:
        assert customer_count(session, actor=SYSTEM) == 0


def test_a_duplicate_phone_names_the_existing_customer_number(app: AppTest) -> None:
    open_page(app, LEAD_ENTRY)
    fill(app, name="First", phone="13900001111")
    submit(app)
    first_no = app.success[0].value.split("**")[1]
    fill(app, name="Second", phone="+86 139 0000 1111")
    submit(app)
    assert f"already exists ({first_no})" in element_after(app, "lead_phone").value
    assert app.text_input(key="lead_name").value == "Second"


def test_errors_are_shown_in_chinese_when_chinese_is_chosen(app: AppTest) -> None:
    open_page(app, LEAD_ENTRY)
    app.radio(key="lang").set_value("zh").run()
    fill(app, name="测试", email="not-an-email")
    submit(app)
    assert app.title[0].value == "录入线索"
    assert "不是有效的邮箱地址" in element_after(app, "lead_email").value


def test_a_201_character_company_gets_a_message_on_the_company_field_and_the_input_is_kept(
    app: AppTest, app_engine: Engine
) -> None:
    # Before: stored on SQLite, a bare "save failed" on PostgreSQL. The column's length is the rule.
    company = "华东机电" * 50 + "X"
    open_page(app, LEAD_ENTRY)
    fill(app, name="Acme", company=company, phone="13812345670")
    submit(app)
    assert not app.exception
    below = element_after(app, "lead_company")
    assert below.type == "error"
    assert "at most 200 characters (this has 201)" in below.value
    assert app.text_input(key="lead_company").value == company
    with session_scope(app_engine) as session:
        assert customer_count(session, actor=SYSTEM) == 0


def test_a_save_refreshes_the_writers_dashboard_while_other_sessions_keep_their_cached_figures(
    app_as, app_engine: Engine
) -> None:
    seed(app_engine, {"lead": 2})
    writer, other = app_as("admin"), app_as("admin")
    for session in (writer, other):
        open_page(session, DASHBOARD)
        assert metric_values(session)["Leads"] == "2"
    open_page(writer, LEAD_ENTRY)
    fill(writer, name="新线索", company="新公司", phone="139 0000 1111")
    submit(writer)
    assert not writer.exception and not writer.error
    writer.switch_page(DASHBOARD).run()
    assert metric_values(writer)["Leads"] == "3"  # the writer sees its own save at once
    other.run()
    # Another session's figures are not thrown away by every save (at a million customers they take
    # seconds to compute): they are at most the cache's minute old.
    assert metric_values(other)["Leads"] == "2"
    common._dashboard.clear()  # what the minute's expiry does
    other.run()
    assert metric_values(other)["Leads"] == "3"

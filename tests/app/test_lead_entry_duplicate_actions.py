"""Lead entry: a duplicate shows the matched customer and its actions; saving anyway needs a reason."""

from sqlalchemy import Engine, func, select
from streamlit.testing.v1 import AppTest

from funnel.core.db import session_scope
from funnel.store.models import AuditLog, Customer
from tests.app.helpers import LEAD_ENTRY, element_after, open_page


def _save(app: AppTest, **values: str) -> AppTest:
    for name, value in values.items():
        app.text_input(key=f"lead_{name}").input(value)
    return app.button(key="lead_submit").click().run()


def test_a_duplicate_by_company_and_name_is_saved_anyway_only_with_a_reason(app: AppTest, app_engine: Engine):
    open_page(app, LEAD_ENTRY)
    _save(app, name="Li Ming", company="Acme Ltd", phone="13900001111")
    first_no = app.success[0].value.split("**")[1]

    _save(app, name="li  ming", company="ACME ltd", phone="13900002222")
    panel = "\n".join(w.value for w in app.warning)
    assert first_no in panel and "company and name" in panel
    assert app.button(key="lead_dup_open") and app.button(key="lead_dup_contact")

    app.button(key="lead_dup_save").click().run()  # no reason yet: refused, input kept
    assert element_after(app, "lead_duplicate_reason").type == "error"
    assert app.text_input(key="lead_name").value == "li  ming"

    app.text_input(key="lead_duplicate_reason").input("Second buying office").run()
    app.button(key="lead_dup_save").click().run()
    assert not app.exception
    assert app.success and app.text_input(key="lead_name").value == ""
    with session_scope(app_engine) as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 2
        reasons = session.scalars(select(AuditLog.changes).where(AuditLog.action == "create")).all()
        assert any(c and c.get("duplicate_reason") == [None, "Second buying office"] for c in reasons)


def test_adding_the_person_as_a_contact_stores_no_second_lead(app: AppTest, app_engine: Engine):
    open_page(app, LEAD_ENTRY)
    _save(app, name="Wang", company="Beta Co", email="wang@beta.cn")
    _save(app, name="Wang", company="Beta Co", contact_name="Zhou", email="WANG@beta.cn", phone="13900003333")
    app.button(key="lead_dup_contact").click().run()
    assert not app.exception
    assert "no new lead" in app.success[0].value
    with session_scope(app_engine) as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 1

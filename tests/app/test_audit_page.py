"""Audit log page: edits with old → new values and sign-in events, filtered by action, user and date."""

from collections.abc import Callable
from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM, Actor
from funnel.accounts.signin import authenticate
from funnel.accounts.users import set_password
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.clock import utcnow
from funnel.core.db import session_scope
from funnel.customers.edit import update_customer
from funnel.store.models import User
from tests.app.conftest import PASSWORD
from tests.app.helpers import APP, open_page, start_signed_in

AUDIT = "pages/audit.py"


def edit_a_lead(engine: Engine, username: str) -> str:
    """`username` creates a lead and renames it through the use cases; its customer number."""
    with session_scope(engine) as session:
        actor = Actor.of(session.query(User).filter_by(username=username).one())
        customer = create_lead(
            session, LeadInput(name="Old name", email=f"{username}@example.com"), actor=actor
        )
        session.flush()
        update_customer(
            session,
            actor=actor,
            customer_id=customer.id,
            changes={"name": "New name", "grade": "A"},
            expected_version=customer.version,
        )
        return customer.customer_no


def table(app: AppTest) -> pd.DataFrame:
    return app.dataframe[0].value


def test_an_edit_shows_who_changed_which_field_from_what_to_what(app: AppTest, app_engine: Engine) -> None:
    edit_a_lead(app_engine, "manager")
    open_page(app, AUDIT)
    assert not app.exception
    edits = table(app)[table(app)["action"] == "Edited"]
    assert len(edits) == 1
    edit = edits.iloc[0]
    assert edit["user"] == "manager"
    assert edit["entity"] == "Customer"
    # Fields by their labels in the reader's language, the customer by its number, not database ids.
    assert "Name: Old name → New name" in edit["changes"]
    assert "Grade: — → A" in edit["changes"]
    assert edit["customer_no"].startswith("C")


def test_the_action_filter_keeps_only_that_action(app: AppTest, app_engine: Engine) -> None:
    edit_a_lead(app_engine, "rep")
    open_page(app, AUDIT)
    assert {"Created", "Edited"} <= set(table(app)["action"])
    app.selectbox(key="audit_action").set_value("update").run()
    assert set(table(app)["action"]) == {"Edited"}
    app.selectbox(key="audit_action").set_value("share").run()
    assert not app.dataframe
    assert app.info[0].value == "No entries match these filters."


def test_the_user_filter_keeps_only_what_that_user_did(app: AppTest, app_engine: Engine) -> None:
    edit_a_lead(app_engine, "rep")
    edit_a_lead(app_engine, "rep2")
    open_page(app, AUDIT)
    assert {"rep", "rep2"} <= set(table(app)["user"])
    app.text_input(key="audit_user").input(" REP2 ").run()
    assert table(app)["user"].tolist() == ["rep2", "rep2"]  # edited, created
    assert table(app)["action"].tolist() == ["Edited", "Created"]


def test_sign_in_events_are_listed_with_their_labels(app: AppTest, app_engine: Engine) -> None:
    with session_scope(app_engine) as session:
        for _ in range(5):
            authenticate(session, "rep2", "wrong password")
        authenticate(session, "nobody", "whatever")
        authenticate(session, "leader", PASSWORD)
    open_page(app, AUDIT)
    actions = table(app)["action"].tolist()
    assert actions.count("Sign-in failed") == 6
    assert actions.count("Account locked") == 1
    assert actions.count("Signed in") == 1
    unknown = table(app)[(table(app)["action"] == "Sign-in failed") & (table(app)["user"] == "system")]
    assert len(unknown) == 1  # an unknown name: logged without the typed text, which may be a password
    assert "nobody" not in unknown.to_string()
    app.selectbox(key="audit_action").set_value("account_locked").run()
    assert table(app)["user"].tolist() == ["rep2"]


def test_a_password_reset_is_listed(app: AppTest, app_engine: Engine) -> None:
    with session_scope(app_engine) as session:
        set_password(session, "rep", "a new password", actor=SYSTEM)
    open_page(app, AUDIT)
    app.selectbox(key="audit_action").set_value("password_reset").run()
    assert table(app)["action"].tolist() == ["Password reset"]


def test_the_date_range_leaves_out_older_entries(app: AppTest, app_engine: Engine) -> None:
    old = utcnow() - timedelta(days=90)
    with session_scope(app_engine) as session:
        audit.record(session, action=AuditAction.DELETE, entity=AuditEntity.CUSTOMER, entity_id=99, customer_id=99,
                     changes={"name": ["Gone Ltd", None]}, at=old)  # fmt: skip
    open_page(app, AUDIT)
    assert "Deleted" not in set(table(app)["action"])  # the last 30 days by default
    app.date_input(key="audit_dates").set_value((old.date(), utcnow().date())).run()
    deleted = table(app)[table(app)["action"] == "Deleted"].iloc[0]
    assert deleted["changes"] == "Name: Gone Ltd → —"
    assert deleted["at"].startswith(old.strftime("%Y-%m-%d"))


def test_the_page_works_in_chinese(app: AppTest, app_engine: Engine) -> None:
    edit_a_lead(app_engine, "rep")
    app.run()
    app.radio(key="lang").set_value("zh").run()
    app.switch_page(AUDIT).run()
    assert not app.exception
    assert app.title[0].value == "审计日志"
    assert "编辑" in set(table(app)["action"])


@pytest.mark.parametrize("username", ["manager", "leader", "admin"])
def test_managers_leaders_and_admins_may_read_the_audit_log(
    app_as: Callable[[str], AppTest], username: str
) -> None:
    app = open_page(app_as(username), AUDIT)
    assert not app.exception
    assert app.title[0].value == "Audit log"
    assert app.dataframe


@pytest.mark.parametrize("username", ["rep", "delivery"])
def test_a_rep_or_delivery_user_opening_the_audit_log_is_refused(
    accounts: dict[str, int], app_engine: Engine, username: str
) -> None:
    # The menu does not offer the page to them; this opens its address directly.
    app = AppTest.from_file(str(APP.parent / AUDIT), default_timeout=30)
    start_signed_in(app, app_engine, accounts[username])
    app.run()
    assert not app.exception
    assert "cannot open this page" in app.warning[0].value
    assert not app.dataframe
    assert not app.text_input

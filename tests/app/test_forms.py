"""The page kit's one guarded write: errors on their field, input kept, database errors, commit then rerun."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from funnel.core.db import session_scope
from funnel.store.models import AuditLog
from tests.app.helpers import element_after


def kit_page() -> None:
    """A page with one form that writes through forms.save; st.session_state["mode"] picks the outcome."""
    import streamlit as st
    from sqlalchemy.exc import OperationalError

    from funnel.audit import record as audit
    from funnel.audit.actions import AuditAction, AuditEntity
    from funnel.core.errors import FieldError, ValidationError
    from pages._shared import forms

    def write(session: object) -> str:
        mode = st.session_state.get("mode")
        if mode == "user_error":
            raise ValidationError(
                [
                    FieldError("name", "error.username_invalid", {"value": "x"}),
                    FieldError("form", "error.permission", {"action": "kit.test"}),
                ]
            )
        if mode == "database_error":
            raise OperationalError("INSERT ...", {}, Exception("database is locked"))
        # A recognisable row: an account "update" with a probe field (nothing else writes one here).
        changes = {"kit_probe": [None, 1]}
        audit.record(
            session, action=AuditAction.UPDATE, entity=AuditEntity.USER, entity_id=None, changes=changes
        )
        if mode == "rerun_inside":
            st.rerun()  # the trap: inside the transaction
        return "done"

    forms.show_notice()
    slots: forms.Slots = {}
    with st.form("kit_form"):
        st.text_input("Name", key="name")
        slots["name"] = st.empty()
        slots["form"] = st.empty()
        submitted = st.form_submit_button("Save", key="kit_save")
    if submitted:
        forms.save(slots, write, notice=lambda result: f"saved: {result}")


@pytest.fixture
def kit(app_engine: Engine) -> AppTest:
    return AppTest.from_function(kit_page, default_timeout=30)


def probes(engine: Engine) -> int:
    with session_scope(engine) as session:
        rows = session.scalars(select(AuditLog.changes).where(AuditLog.action == "update"))
        return sum(1 for changes in rows if changes and "kit_probe" in changes)


def submit(app: AppTest, mode: str, name: str = "typed by the user") -> AppTest:
    app.session_state["mode"] = mode
    app.text_input(key="name").input(name)
    return app.button(key="kit_save").click().run()


def test_a_user_error_shows_under_its_field_and_above_the_form_and_keeps_the_input(
    kit: AppTest, app_engine: Engine
) -> None:
    app = submit(kit.run(), "user_error")
    assert not app.exception
    under_name = element_after(app, "name")
    assert "is not a valid username" in under_name.value
    assert any("kit.test" in error.value for error in app.error)
    assert app.text_input(key="name").value == "typed by the user"
    assert not app.success
    assert probes(app_engine) == 0


def test_a_database_error_shows_the_message_and_keeps_the_input(kit: AppTest, app_engine: Engine) -> None:
    app = submit(kit.run(), "database_error")
    assert not app.exception
    assert [error.value for error in app.error] == [
        "The database could not complete this just now (the server log has the details). "
        "Nothing was changed; please try again in a moment."
    ]
    assert app.text_input(key="name").value == "typed by the user"
    assert probes(app_engine) == 0


def test_a_save_commits_then_reruns_with_the_notice(kit: AppTest, app_engine: Engine) -> None:
    app = submit(kit.run(), "ok")
    assert not app.exception
    assert [success.value for success in app.success] == ["saved: done"]
    assert probes(app_engine) == 1


def test_st_rerun_inside_the_write_no_longer_drops_the_save(kit: AppTest, app_engine: Engine) -> None:
    app = submit(kit.run(), "rerun_inside")
    assert not app.exception
    assert probes(app_engine) == 1  # session_scope would have rolled it back

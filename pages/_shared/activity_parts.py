"""The customer page's activity section: quick log with the call script beside it, and the activity list."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import streamlit as st

from funnel.access.permissions import Actor, allowed
from funnel.core.clock import local_to_utc, utcnow
from funnel.core.db import session_scope
from funnel.customers.read import get_customer
from funnel.working.activities import KINDS, customer_activities, log_activity
from funnel.working.scripts import SCRIPT_FIELDS, Question, call_script
from pages._shared import forms
from pages._shared.common import current_language, get_engine, md, tr
from pages._shared.customer_parts import table

DUE_PRESETS = {"1d": timedelta(days=1), "3d": timedelta(days=3), "7d": timedelta(days=7)}
FIELD = "act_{}".format


def activity_section(actor: Actor, customer_id: int) -> None:
    """Log a call, chat or visit in one or two clicks; the next step becomes a follow-up task."""
    lang = current_language()
    with forms.guarded_read(), session_scope(get_engine()) as session:
        customer = get_customer(session, actor=actor, customer_id=customer_id)
        script = call_script(session, customer.stage, lang)
        activities = customer_activities(session, actor=actor, customer_id=customer_id)
    st.subheader(tr("act.title"))
    if allowed(actor, "customer.edit"):
        _log_form(actor, customer_id, script)
    if activities.empty:
        st.caption(tr("act.none"))
    else:
        shown = activities.assign(kind=[tr(f"act.kind.{k}") for k in activities["kind"]])
        table(shown, "act.col", "act_list")


def _log_form(actor: Actor, customer_id: int, script: list[Question]) -> None:
    slots: forms.Slots = {}
    asked = {q.field for q in script}
    with st.form("act_form", enter_to_submit=False):
        kind = st.radio(
            tr("act.kind"),
            KINDS,
            format_func=lambda k: tr(f"act.kind.{k}"),
            horizontal=True,
            key=FIELD("kind"),
        )
        slots["kind"] = st.empty()
        left, right = st.columns(2)
        with right:
            st.markdown(f"**{tr('act.script')}**")
            for question in script:
                st.text_area(md(question.text), key=FIELD(question.field), height=68)
                slots[question.field] = st.empty()
        with left:
            for name in SCRIPT_FIELDS:
                if name not in asked:
                    st.text_input(tr(f"act.field.{name}"), key=FIELD(name))
                    slots[name] = st.empty()
            st.text_area(tr("act.field.note"), key=FIELD("note"), height=68)
            slots["note"] = st.empty()
            due = st.radio(
                tr("act.field.due"), [*DUE_PRESETS, "date"], format_func=lambda d: tr(f"act.due.{d}"),
                horizontal=True, key=FIELD("due"),
            )  # fmt: skip
            day = st.date_input(tr("act.field.due_date"), key=FIELD("due_date"), value=None)
            slots["next_step_due"] = st.empty()
            slots["at"] = st.empty()
        slots["form"] = st.empty()
        submitted = st.form_submit_button(tr("act.save"), key="act_save", type="primary")
    if not submitted:
        return
    values = {name: st.session_state.get(FIELD(name)) or None for name in (*SCRIPT_FIELDS, "note")}
    now = utcnow()
    next_due = None  # a next step without a due time is refused on its field
    if values["next_step"] and due in DUE_PRESETS:
        next_due = now + DUE_PRESETS[due]
    elif values["next_step"] and isinstance(day, date):
        next_due = local_to_utc(datetime.combine(day, time(10, 0)))  # 10:00 on the team's clock
    forms.save(
        slots,
        lambda s: log_activity(
            s,
            actor=actor,
            customer_id=customer_id,
            kind=kind,
            at=now,
            needs=values["needs"],
            budget=values["budget"],
            concerns=values["concerns"],
            next_step=values["next_step"],
            next_step_due=next_due,
            note=values["note"],
        ),
        notice=tr("act.saved"),
        then=lambda _: _clear_form(),
    )


def _clear_form() -> None:
    for name in (*SCRIPT_FIELDS, "note", "due_date"):
        st.session_state.pop(FIELD(name), None)

"""The customer page's qualification section: budget band and amount, month, use case, competitors."""

from __future__ import annotations

import streamlit as st

from funnel.access.permissions import Actor, allowed
from funnel.core.db import session_scope
from funnel.customers.lists import list_values
from funnel.working.qualification import BUDGET_BAND, COMPETITOR, read_qualification, save_qualification
from pages._shared import forms
from pages._shared.common import current_language, get_engine, tr

KEY = "qual_{}".format
FOR_KEY = "qual_for"


def qualification_section(actor: Actor, customer_id: int) -> None:
    """The qualification form, holding the version it was loaded with (a save since then is refused)."""
    lang = current_language()
    with forms.guarded_read(), session_scope(get_engine()) as session:
        q = read_qualification(session, actor=actor, customer_id=customer_id)
        bands = {v.code: v.label(lang) for v in list_values(session, BUDGET_BAND)}
        rivals = {v.code: v.label(lang) for v in list_values(session, COMPETITOR)}
    st.subheader(tr("qual.title"))
    if st.session_state.get(FOR_KEY) != customer_id:
        st.session_state[KEY("band")] = q.budget_range if q.budget_range in bands else ""
        st.session_state[KEY("amount")] = "" if q.budget_amount is None else str(q.budget_amount)
        st.session_state[KEY("month")] = q.purchase_timeline or ""
        st.session_state[KEY("use_case")] = q.use_case or ""
        st.session_state[KEY("known")] = [c for c in q.competitors if c in rivals]
        st.session_state[KEY("other")] = "、".join(c for c in q.competitors if c not in rivals)
        st.session_state[KEY("process")] = q.decision_process or ""
        st.session_state[KEY("version")] = q.version
        st.session_state[KEY("loaded")] = q
        st.session_state[FOR_KEY] = customer_id
    slots: forms.Slots = {}
    with st.form("qual_form", enter_to_submit=False):
        left, right = st.columns(2)
        left.selectbox(
            tr("qual.band"), ["", *bands], format_func=lambda c: bands.get(c, "—"), key=KEY("band")
        )
        slots["budget_range"] = left.empty()
        left.text_input(tr("qual.amount"), key=KEY("amount"))
        slots["budget_amount"] = left.empty()
        left.text_input(tr("qual.month"), key=KEY("month"), placeholder="2027-03")
        slots["purchase_timeline"] = left.empty()
        right.multiselect(
            tr("qual.competitors"), list(rivals), format_func=lambda c: rivals.get(c, c), key=KEY("known")
        )
        right.text_input(tr("qual.other_competitors"), key=KEY("other"))
        slots["competitors"] = right.empty()
        st.text_area(tr("qual.use_case"), key=KEY("use_case"), height=68)
        slots["use_case"] = st.empty()
        st.text_area(tr("qual.process"), key=KEY("process"), height=68)
        slots["decision_process"] = st.empty()
        slots["form"] = st.empty()
        submitted = st.form_submit_button(
            tr("qual.save"), key="qual_save", disabled=not allowed(actor, "customer.edit")
        )
    st.button(tr("cust.discard"), key="qual_discard", type="tertiary", on_click=_forget)
    if submitted:
        s = st.session_state
        competitors = [*s[KEY("known")], *(s[KEY("other")].replace(",", "、").split("、"))]
        forms.save(
            slots,
            lambda session: save_qualification(
                session,
                actor=actor,
                customer_id=customer_id,
                expected_version=s[KEY("version")],
                budget_band=s[KEY("band")],
                budget_amount=s[KEY("amount")],
                purchase_month=s[KEY("month")],
                use_case=s[KEY("use_case")],
                competitors=competitors,
                decision_process=s[KEY("process")],
                loaded=s[KEY("loaded")],
            ),
            notice=tr("qual.saved", customer_no=q.customer_no),
            then=lambda _: _forget(),
            stale_record=q.customer_no,
        )


def _forget() -> None:
    """Load the stored qualification into the form again on the next run (after a save, or to discard)."""
    st.session_state.pop(FOR_KEY, None)

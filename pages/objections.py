"""Objections (异议): log one with the playbook's prepared answer in view; managers keep the playbook;
the review shows objections by category and stage, the share resolved, and what came before losses."""

import streamlit as st

from funnel.access.permissions import allowed
from funnel.closing.common import customer_id_by_no
from funnel.closing.objections import (
    before_outcomes,
    by_category_stage,
    categories,
    log_objection,
    objection_counts,
    playbook,
    resolved_share,
    set_playbook,
)
from funnel.core.db import session_scope
from funnel.core.errors import FORM
from funnel.core.export import spreadsheet_safe
from funnel.pipeline.stages import get_pipeline
from pages._shared import forms
from pages._shared.common import current_language, get_engine, tr
from pages._shared.forms import guarded_read
from pages._shared.shell import page_setup

actor = page_setup("customer.edit")
lang = current_language()
st.title(tr("objections.title"))
forms.show_notice()

with guarded_read(), session_scope(get_engine()) as session:
    values = categories(session)
    answers = playbook(session)
names = {value.code: value.label(lang) for value in values}

st.subheader(tr("objections.log"))
category = st.selectbox(
    tr("objections.category"), list(names), format_func=names.__getitem__, key="objection_category"
)
prepared = answers.get(category)
if prepared:
    st.info(tr("objections.prepared"), icon=":material/lightbulb:")
    st.text(prepared)  # a manager's text, shown as typed
else:
    st.caption(tr("objections.no_answer"))
customer_no = st.text_input(tr("objections.customer_no"), key="objection_customer", max_chars=32)
customer_slot = st.empty()
words = st.text_area(tr("objections.words"), key="objection_words", max_chars=4000)
words_slot = st.empty()
response = st.text_area(tr("objections.response"), key="objection_response", max_chars=4000)
resolved = st.checkbox(tr("objections.resolved"), key="objection_resolved")
form_slot = st.empty()
if st.button(tr("objections.save"), key="objection_save", type="primary"):
    slots: forms.Slots = {FORM: form_slot, "customer_no": customer_slot, "detail": words_slot,
                          "category": form_slot, "stage": form_slot, "response": form_slot}  # fmt: skip

    def write(session):  # type: ignore[no-untyped-def]
        customer_id = customer_id_by_no(session, actor, customer_no, "customer.edit")
        return log_objection(
            session, actor=actor, customer_id=customer_id, category=category, words=words,
            response=response, resolved=resolved,
        )  # fmt: skip

    forms.save(slots, write, notice=tr("objections.saved"), areas=())

if allowed(actor, "objection.playbook"):
    st.subheader(tr("objections.playbook"))
    book_category = st.selectbox(
        tr("objections.category"), list(names), format_func=names.__getitem__, key="playbook_category"
    )
    answer = st.text_area(
        tr("objections.answer"), value=answers.get(book_category, ""), key=f"playbook_{book_category}"
    )
    answer_slot = st.empty()
    if st.button(tr("objections.save_playbook"), key="playbook_save"):
        forms.save(
            {FORM: answer_slot, "answer": answer_slot, "category": answer_slot},
            lambda s: set_playbook(s, actor=actor, category=book_category, answer=answer),
            notice=tr("objections.playbook_saved"),
            areas=(),
        )

if allowed(actor, "analytics.read"):
    st.subheader(tr("objections.review"))
    with guarded_read(), session_scope(get_engine()) as session:
        counts = objection_counts(session, actor=actor)
    if counts.empty:
        st.info(tr("objections.none"), icon=":material/forum:")
        st.stop()
    label = names.get
    stages = get_pipeline().keys
    table = by_category_stage(counts, list(stages))
    table.index = [label(code, code) for code in table.index]
    table.columns = [get_pipeline().name(key, lang) if key in stages else key for key in table.columns]
    st.caption(tr("objections.by_stage"))
    st.dataframe(spreadsheet_safe(table.reset_index(names="category")), hide_index=True, width="stretch")
    shares = resolved_share(counts)
    shares.index = [label(code, code) for code in shares.index]
    st.caption(tr("objections.resolved_share"))
    st.dataframe(spreadsheet_safe(shares.reset_index(names="category")), hide_index=True, width="stretch")
    outcomes = before_outcomes(counts)
    outcomes.index = [label(code, code) for code in outcomes.index]
    st.caption(tr("objections.before_outcomes"))
    st.dataframe(spreadsheet_safe(outcomes.reset_index(names="category")), hide_index=True, width="stretch")

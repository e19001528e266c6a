"""Leads: the customers a user may see, searchable and filtered by status; a row opens the customer."""

import streamlit as st

from funnel.core.db import session_scope
from funnel.core.i18n import t
from funnel.core.settings import get_settings
from funnel.customers.fields import STATUSES
from funnel.customers.read import list_customers
from funnel.pipeline.stages import get_pipeline
from pages._shared import customer_parts as parts
from pages._shared.common import current_language, get_engine, keep_translated_choices, tr
from pages._shared.forms import guarded_read, show_notice
from pages._shared.shell import page_setup

LIMIT = 500

actor = page_setup("customer.read")
pipeline, lang = get_pipeline(), current_language()
st.title(tr("leads.title"))
st.caption(tr("leads.intro"))
show_notice()
keep_translated_choices("leads_status")

search_col, status_col = st.columns([3, 1])
search = search_col.text_input(
    tr("leads.search"), key="leads_search", placeholder=tr("leads.search.placeholder")
)
status = status_col.selectbox(
    tr("leads.status"),
    ["all", *STATUSES],
    format_func=lambda key: t(f"leads.status.{key}", lang),
    key="leads_status",
)
# Read fresh on every run: a worklist must show a colleague's change at once, and the query is one
# indexed SELECT limited to LIMIT rows.
with guarded_read(), session_scope(get_engine()) as session:
    frame = list_customers(
        session, actor=actor, search=search, status=None if status == "all" else status, limit=LIMIT
    )

if frame.empty:
    st.info(tr("leads.empty"))
    st.stop()

counts = [tr("leads.count", count=len(frame))]
if overdue := int(frame["first_contact_overdue"].sum()):
    counts.append(tr("leads.overdue_count", count=overdue, hours=get_settings().first_contact_sla_hours))
st.markdown(" · ".join(counts))
if len(frame) >= LIMIT:
    st.caption(tr("leads.count_limited", count=LIMIT))

shown, columns = parts.leads_table(frame, pipeline, lang)
event = st.dataframe(
    shown,
    column_config=columns,
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    key="leads_table",
)
if event.selection.rows:
    parts.open_customer(int(frame.iloc[event.selection.rows[0]]["id"]))

"""Leads: the customers a user may see, searched, filtered (also in the URL), paged in SQL."""

import streamlit as st

from funnel.core.db import session_scope
from funnel.core.i18n import t
from funnel.core.settings import get_settings
from funnel.customers.fields import GRADES, STATUSES
from funnel.customers.read import LeadFilters, list_customers
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

# The filters live in the address bar too (?stage=qualify&grade=A&page=2), so a filtered list is a link.
URL_KEYS = {"q": "leads_search", "stage": "leads_stage", "grade": "leads_grade", "channel": "leads_channel"}
URL_KEYS |= {"overdue": "leads_overdue", "page": "leads_page"}
if "leads_from_url" not in st.session_state:
    st.session_state["leads_from_url"] = True
    params = st.query_params
    for name, key in URL_KEYS.items():
        if name in params:
            if name in ("stage", "grade"):
                st.session_state[key] = [v for v in params.get_all(name) if v]
            elif name == "overdue":
                st.session_state[key] = params[name] == "1"
            elif name == "page":
                st.session_state[key] = max(1, int(params[name])) if params[name].isdigit() else 1
            else:
                st.session_state[key] = params[name]

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
stage_col, grade_col, channel_col, overdue_col, page_col = st.columns([3, 2, 2, 2, 1])
stages = stage_col.multiselect(
    tr("leads.filter.stage"), pipeline.keys, format_func=lambda k: pipeline.name(k, lang), key="leads_stage"
)
grades = grade_col.multiselect(tr("leads.filter.grade"), list(GRADES), key="leads_grade")
channel = channel_col.text_input(tr("leads.filter.channel"), key="leads_channel")
overdue_only = overdue_col.checkbox(tr("leads.filter.overdue"), key="leads_overdue")
page = int(page_col.number_input(tr("leads.page"), min_value=1, step=1, key="leads_page"))
filters = LeadFilters(
    stages=tuple(stages),
    grades=tuple(grades),
    channels=(channel.strip(),) if channel.strip() else (),
    first_contact_overdue=overdue_only,
)
st.query_params.from_dict(
    {
        k: v
        for k, v in {
            "q": search,
            "stage": stages,
            "grade": grades,
            "channel": channel.strip(),
            "overdue": "1" if overdue_only else "",
            "page": str(page) if page > 1 else "",
        }.items()
        if v
    }
)
# Read fresh on every run: a worklist must show a colleague's change at once, and the query is one
# indexed SELECT limited to LIMIT rows.
with guarded_read(), session_scope(get_engine()) as session:
    frame = list_customers(
        session,
        actor=actor,
        search=search,
        status=None if status == "all" else status,
        limit=LIMIT,
        offset=(page - 1) * LIMIT,
        filters=filters,
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

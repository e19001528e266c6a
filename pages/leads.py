"""Leads: the customers a user may see, searched, filtered and sorted (also in the URL), paged in SQL.

Managers select rows for bulk actions (reassign, tag, grade); each row goes through its use case.
"""

import math

import pandas as pd
import streamlit as st

from funnel.core.db import session_scope
from funnel.core.errors import FORM
from funnel.core.i18n import t
from funnel.core.settings import get_settings
from funnel.customers.edit import assignable_users
from funnel.customers.fields import GRADES
from funnel.customers.read import count_customers, list_customers
from funnel.customers.tags import tag_choices
from funnel.pipeline.stages import get_pipeline
from funnel.working.bulk import BulkResult, apply_each, bulk_write
from pages._shared import customer_parts as parts
from pages._shared import leads_parts as leads
from pages._shared.common import current_language, get_engine, keep_translated_choices, tr
from pages._shared.forms import guarded_read, save, show_notice
from pages._shared.shell import page_setup

PAGE_SIZE = 100

actor = page_setup("customer.read")
pipeline, lang = get_pipeline(), current_language()
st.title(tr("leads.title"))
st.caption(tr("leads.intro"))
show_notice()
leads.show_refused()

with guarded_read(), session_scope(get_engine()) as session:
    chosen = leads.filter_bar(session, "leads", actor=actor, pipeline=pipeline, lang=lang)
if st.button(tr("leads.view.board"), key="leads_to_board", icon=":material/view_kanban:"):
    leads.switch_view("pages/board.py", "board", chosen)
if chosen.problems:
    for problem in chosen.problems:
        st.error(problem, icon=":material/error:")
    st.stop()

# Read fresh on every run: a worklist must show a colleague's change at once. The page is one indexed
# SELECT of PAGE_SIZE rows; the total a COUNT over the same conditions, skipped when the first page is
# not full (a substring search reads every row, so it is not read twice).
with guarded_read(), session_scope(get_engine()) as session:

    def read_page(number: int) -> pd.DataFrame:
        return list_customers(
            session,
            actor=actor,
            search=chosen.search,
            status=chosen.status,
            limit=PAGE_SIZE,
            offset=(number - 1) * PAGE_SIZE,
            filters=chosen.filters,
            sort=chosen.sort,
        )

    page = chosen.page
    frame = read_page(page)
    if page == 1 and len(frame) < PAGE_SIZE:
        total = len(frame)
    else:
        total = count_customers(
            session, actor=actor, search=chosen.search, status=chosen.status, filters=chosen.filters
        )
    pages = max(math.ceil(total / PAGE_SIZE), 1)
    if page > pages:  # a link's page past the end: the last one
        page = pages
        frame = read_page(page)

if frame.empty:
    st.info(tr("leads.empty"))
    st.stop()

counts = [tr("leads.count", count=total), tr("leads.page_of", page=page, pages=pages)]
if overdue := int(frame["first_contact_overdue"].sum()):
    counts.append(tr("leads.overdue_count", count=overdue, hours=get_settings().first_contact_sla_hours))
st.markdown(" · ".join(counts))
page_col, bulk_col = st.columns([1, 3])
if st.session_state.get("leads_page", 1) != page:
    st.session_state["leads_page"] = page
page_col.number_input(tr("leads.page"), min_value=1, max_value=pages, step=1, key="leads_page")

bulk_mode = leads.may_bulk(actor) and bulk_col.toggle(tr("leads.bulk.toggle"), key="leads_bulk_mode")
shown, columns = leads.leads_table(frame, pipeline, lang)
event = st.dataframe(
    shown,
    column_config=columns,
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="multi-row" if bulk_mode else "single-row",
    key="leads_table",
)
# A selection was made on the table as last drawn: its rows (and the versions the reader saw) are read
# from that drawing, so a row that moved or changed since is not mistaken for another, and is refused as
# stale by a bulk action rather than overwritten.
drawn = [
    (int(cid), str(number), int(version))
    for cid, number, version in frame[["id", "customer_no", "version"]].itertuples(index=False)
]
shown_before = st.session_state.get("leads_drawn") or drawn
st.session_state["leads_drawn"] = drawn
rows = [shown_before[row] for row in event.selection.rows if row < len(shown_before)]
if not bulk_mode:
    if rows:
        parts.open_customer(rows[0][0])
    st.stop()

st.subheader(tr("leads.bulk.title"))
if not rows:
    st.info(tr("leads.bulk.none"), icon=":material/check_box:")
    st.stop()
st.caption(tr("leads.bulk.selected", count=len(rows)))
if len(rows) == 1 and st.button(tr("leads.bulk.open", customer_no=rows[0][1]), key="leads_bulk_open"):
    parts.open_customer(rows[0][0])
keep_translated_choices("leads_bulk_action")
with guarded_read(), session_scope(get_engine()) as session:
    users = {user.id: user.display_name for user in assignable_users(session, actor=actor)}
    tags = tag_choices(session, lang)
action_col, value_col = st.columns(2)
action = action_col.selectbox(
    tr("leads.bulk.action"),
    leads.BULK_ACTIONS,
    format_func=lambda a: t(f"leads.bulk.action.{a}", lang),
    key="leads_bulk_action",
)
value: object
if action == "reassign":
    value = value_col.selectbox(
        tr("leads.bulk.owner"), list(users), format_func=lambda u: users[u], key="leads_bulk_owner"
    )
elif action in ("tag_add", "tag_remove"):
    value = value_col.selectbox(
        tr("leads.bulk.tag"), list(tags), format_func=lambda c: tags[c], key="leads_bulk_tag"
    )
else:
    value = value_col.selectbox(
        tr("leads.bulk.grade"),
        [*GRADES, None],
        format_func=lambda g: t("leads.bulk.grade_none", lang) if g is None else g,
        key="leads_bulk_grade",
    )
slot = st.empty()


def after_bulk(result: BulkResult) -> None:
    """After the commit: name the refused rows on the next run and clear the selection."""
    leads.keep_refused(result)
    st.session_state.pop("leads_table", None)


if st.button(tr("leads.bulk.apply", count=len(rows)), key="leads_bulk_apply", type="primary"):
    targets = list(rows)
    write = bulk_write(action, value, actor=actor)
    save(
        {FORM: slot},
        lambda s: apply_each(s, actor=actor, rows=targets, write=write),
        notice=lambda result: leads.bulk_message(action, result),
        then=after_bulk,
    )

"""Audit log (managers, leadership, admins): who changed what and when, and every sign-in."""

from datetime import date, datetime, timedelta

import streamlit as st

from funnel.audit.format import KNOWN_ACTIONS, audit_view, query_days
from funnel.audit.read import audit_entries
from funnel.core.db import session_scope
from funnel.core.export import spreadsheet_safe
from funnel.core.validation import clean
from funnel.customers.fields import field_label
from pages._shared import admin_parts as parts
from pages._shared.common import browser_zone, current_language, get_engine, keep_translated_choices, tr
from pages._shared.forms import guarded_read
from pages._shared.shell import page_setup

actor = page_setup("audit.read")
lang = current_language()
LIMIT = 1000
COLUMNS = ("at", "user", "action", "entity", "customer_no", "changes")

st.title(tr("auditlog.title"))
st.caption(tr("auditlog.intro"))
zone = browser_zone()
today = datetime.now(zone).date()

keep_translated_choices("audit_action")
left, middle, right = st.columns([2, 2, 3])
action: str = left.selectbox(
    tr("auditlog.action"),
    ["", *KNOWN_ACTIONS],
    format_func=lambda key: parts.translated("auditlog.action", key or "all", lang),
    key="audit_action",
)
username = middle.text_input(
    tr("auditlog.user"), placeholder=tr("auditlog.user_placeholder"), key="audit_user"
)
picked = right.date_input(tr("auditlog.dates"), value=(today - timedelta(days=30), today), key="audit_dates")
# While a range is being picked the widget holds only its first day.
days: list[date | None] = [*picked, None, None][:2] if isinstance(picked, tuple | list) else [picked, None]
since, until = days

first_day, last_day = query_days(since, until)  # stored in UTC; the days asked for are the reader's
with guarded_read(), session_scope(get_engine()) as session:
    entries = audit_entries(
        session,
        actor=actor,
        action=action or None,
        username=(clean(username) or "").lower() or None,
        since=first_day,
        until=last_day,
        limit=LIMIT,
    )
view = audit_view(entries, zone=zone, since=since, until=until, label=lambda name: field_label(name, lang))
if view.empty:
    st.info(tr("auditlog.empty"), icon=":material/search_off:")
    st.stop()

view["user"] = view["user"].fillna(tr("auditlog.system"))
view["action"] = view["action"].map(lambda key: parts.translated("auditlog.action", key, lang))
view["entity"] = view["entity"].map(lambda key: parts.translated("auditlog.entity", key, lang))
st.caption(tr("auditlog.count", n=len(view), zone=str(zone)))
st.dataframe(
    spreadsheet_safe(view[list(COLUMNS)]),
    hide_index=True,
    width="stretch",
    column_config={name: tr(f"auditlog.col.{name}") for name in COLUMNS},
)
if len(entries) >= LIMIT:
    st.caption(tr("auditlog.limited", n=LIMIT))

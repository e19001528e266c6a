"""Inbox: the signed-in user's notifications (new, routed, reassigned leads); mark read; open the customer."""

import streamlit as st

from funnel.core.db import session_scope
from funnel.inbox.notify import inbox, mark_read
from pages._shared import forms
from pages._shared.common import current_language, get_engine, keep_translated_choices, local_time, md, tr
from pages._shared.customer_parts import open_customer
from pages._shared.shell import page_setup

actor = page_setup("inbox.read")
assert actor.user_id is not None  # every role with inbox.read is a person
user_id = actor.user_id
keep_translated_choices("inbox_show")

st.title(tr("inbox.title"))
forms.show_notice()
show = st.radio(
    tr("inbox.show"),
    ("unread", "all"),
    format_func=lambda value: tr(f"inbox.show.{value}"),
    horizontal=True,
    key="inbox_show",
)
with forms.guarded_read(), session_scope(get_engine()) as session:
    items = inbox(session, user_id, lang=current_language(), unread_only=show == "unread")
slots: forms.Slots = {"form": st.empty()}
if not items:
    st.info(tr("inbox.empty_unread" if show == "unread" else "inbox.empty"), icon=":material/inbox:")
elif st.button(tr("inbox.mark_all"), key="inbox_mark_all", icon=":material/done_all:"):
    forms.save(
        slots,
        lambda s: mark_read(s, user_id),
        notice=lambda count: tr("inbox.marked", count=count),
        areas=(),
    )
for item in items:
    with st.container(border=True, key=f"inbox_item_{item.id}"):
        text, actions = st.columns([5, 2])
        badge = f"**{tr('inbox.unread_badge')}** · " if item.read_at is None else ""
        text.markdown(f"{badge}{md(item.text)}")
        text.caption(local_time(item.created_at).strftime("%Y-%m-%d %H:%M"))
        if item.customer_id is not None and actions.button(
            tr("inbox.open", customer_no=item.customer_no or item.customer_id), key=f"inbox_open_{item.id}"
        ):
            customer_id, opened = item.customer_id, [item.id]
            forms.run_write(lambda s: mark_read(s, user_id, opened))  # noqa: B023  (run at once)
            open_customer(customer_id)
        if item.read_at is None and actions.button(tr("inbox.mark_read"), key=f"inbox_read_{item.id}"):
            done = [item.id]
            forms.save(slots, lambda s: mark_read(s, user_id, done), areas=())  # noqa: B023  (run at once)

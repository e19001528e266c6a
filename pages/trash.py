"""Deleted and archived customers (admins): undo a delete of the last 30 days, bring an archived one back."""

import pandas as pd
import streamlit as st

from funnel.closing.archive import archive_customer, archived_customers, deleted_customers, restore_customer
from funnel.core.db import session_scope
from funnel.core.errors import FORM
from funnel.core.export import spreadsheet_safe
from funnel.customers.trash import UNDO_DAYS
from pages._shared import forms
from pages._shared.common import get_engine, local_time, tr
from pages._shared.forms import guarded_read
from pages._shared.shell import page_setup

actor = page_setup("customer.restore")
st.title(tr("trash.title"))
st.caption(tr("trash.intro", days=UNDO_DAYS))
forms.show_notice()

with guarded_read(), session_scope(get_engine()) as session:
    deleted = deleted_customers(session, actor=actor)
    archived = archived_customers(session, actor=actor)


def shown_times(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    frame = frame.copy()
    frame[column] = [local_time(value).strftime("%Y-%m-%d %H:%M") for value in frame[column]]
    return frame


st.subheader(tr("trash.deleted"))
restorable = deleted[deleted["restorable"]] if not deleted.empty else deleted
if restorable.empty:
    st.info(tr("trash.none_deleted"), icon=":material/delete_sweep:")
else:
    columns = ["customer_no", "name", "deleted_at"]
    st.dataframe(
        spreadsheet_safe(shown_times(restorable[columns], "deleted_at")),
        hide_index=True,
        width="stretch",
        column_config={name: tr(f"trash.col.{name}") for name in columns},
    )
    labels = {int(r.id): f"{r.customer_no} · {r.name}" for r in restorable.itertuples()}
    numbers = {int(r.id): str(r.customer_no) for r in restorable.itertuples()}
    picked = st.selectbox(
        tr("trash.pick_deleted"), list(labels), format_func=labels.__getitem__, key="trash_pick"
    )
    restore_slots: forms.Slots = {FORM: st.empty()}
    if st.button(tr("trash.restore"), key="trash_restore", type="primary"):
        forms.save(
            restore_slots,
            lambda s: restore_customer(s, actor=actor, deleted_id=picked),
            notice=tr("trash.restored", customer_no=numbers[picked]),
        )

st.subheader(tr("trash.archived"))
if archived.empty:
    st.info(tr("trash.none_archived"), icon=":material/archive:")
else:
    columns = ["customer_no", "name", "stage", "status", "archived_at"]
    st.dataframe(
        spreadsheet_safe(shown_times(archived[columns], "archived_at")),
        hide_index=True,
        width="stretch",
        column_config={name: tr(f"trash.col.{name}") for name in columns},
    )
    archived_labels = {int(r.id): f"{r.customer_no} · {r.name}" for r in archived.itertuples()}
    archived_numbers = {int(r.id): str(r.customer_no) for r in archived.itertuples()}
    chosen = st.selectbox(
        tr("trash.pick_archived"),
        list(archived_labels),
        format_func=archived_labels.__getitem__,
        key="trash_pick_archived",
    )
    unarchive_slots: forms.Slots = {FORM: st.empty()}
    if st.button(tr("trash.unarchive"), key="trash_unarchive"):
        forms.save(
            unarchive_slots,
            lambda s: archive_customer(s, actor=actor, customer_id=chosen, archived=False),
            notice=tr("trash.unarchived", customer_no=archived_numbers[chosen]),
        )

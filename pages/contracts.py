"""Contracts and payments: the managers' approval queue, balances, and receipts for delivery / finance."""

from datetime import date

import streamlit as st

from funnel.access.permissions import allowed
from funnel.closing.contracts import approve_contract, pending_for, reject_contract
from funnel.closing.payments import contract_balances, record_payment
from funnel.core.db import session_scope
from funnel.core.errors import FORM
from funnel.core.export import spreadsheet_safe
from pages._shared import forms
from pages._shared.common import get_engine, tr
from pages._shared.forms import guarded_read
from pages._shared.shell import page_setup

actor = page_setup("order.read")
st.title(tr("contracts.title"))
forms.show_notice()

if allowed(actor, "contract.approve"):
    st.subheader(tr("contracts.queue"))
    with guarded_read(), session_scope(get_engine()) as session:
        queue = pending_for(session, actor=actor)
    if queue.empty:
        st.info(tr("contracts.queue_empty"), icon=":material/task_alt:")
    else:
        shown = queue[["id", "customer_no", "customer", "contract_no", "amount", "submitted_at"]]
        st.dataframe(spreadsheet_safe(shown), hide_index=True, width="stretch")
        labels = {
            int(r.id): f"{r.contract_no or '#' + str(r.id)} · {r.customer} · {r.amount:,.2f}"
            for r in queue.itertuples()
        }
        picked = st.selectbox(
            tr("contracts.pick"), list(labels), format_func=labels.__getitem__, key="contract_pick"
        )
        reason = st.text_input(tr("contracts.reject_reason"), key="contract_reason", max_chars=500)
        slots: forms.Slots = {FORM: st.empty(), "rejected_reason": st.empty(), "status": st.empty()}
        left, right = st.columns(2)
        if left.button(tr("contracts.approve"), key="contract_approve", type="primary"):
            forms.save(
                slots,
                lambda s: approve_contract(s, actor=actor, contract_id=picked),
                notice=tr("contracts.approved"),
                areas=(),
            )
        if right.button(tr("contracts.reject"), key="contract_reject"):
            forms.save(
                slots,
                lambda s: reject_contract(s, actor=actor, contract_id=picked, reason=reason),
                notice=tr("contracts.rejected"),
                areas=(),
            )

st.subheader(tr("contracts.balances"))
with guarded_read(), session_scope(get_engine()) as session:
    balances = contract_balances(session, actor=actor)
if balances.empty:
    st.info(tr("contracts.none_signed"), icon=":material/receipt_long:")
    st.stop()
columns = ["customer_no", "customer", "contract_no", "amount", "paid", "outstanding", "instalments"]
st.dataframe(
    spreadsheet_safe(balances[columns]),
    hide_index=True,
    width="stretch",
    column_config={name: tr(f"contracts.col.{name}") for name in columns},
)

if allowed(actor, "payment.record"):
    st.subheader(tr("contracts.receipt"))
    open_ones = balances[balances["outstanding"] > 0]
    names = {
        int(r.id): f"{r.contract_no or '#' + str(r.id)} · {r.customer} · {r.outstanding:,.2f}"
        for r in open_ones.itertuples()
    }
    if not names:
        st.caption(tr("contracts.all_paid"))
        st.stop()
    with st.form("receipt", clear_on_submit=False):
        contract_id = st.selectbox(
            tr("contracts.contract"), list(names), format_func=names.__getitem__, key="receipt_contract"
        )
        amount = st.text_input(tr("contracts.amount"), key="receipt_amount")
        amount_slot = st.empty()
        received = st.date_input(tr("contracts.received_on"), value=date.today(), key="receipt_day")
        day_slot = st.empty()
        form_slot = st.empty()
        submitted = st.form_submit_button(tr("contracts.record"), type="primary")
    if submitted:
        receipt_slots: forms.Slots = {
            FORM: form_slot,
            "amount": amount_slot,
            "received_on": day_slot,
            "contract_id": form_slot,
        }
        forms.save(
            receipt_slots,
            lambda s: record_payment(
                s, actor=actor, contract_id=contract_id, amount=amount, received_on=received
            ),
            notice=tr("contracts.recorded"),
            areas=(),
        )

"""Customer detail: who they are, edit, move the stage, assign or share, delete, and the history.

The page offers only what the role allows; funnel/ checks every call again, so a refused action shows
a message rather than a traceback.
"""

import streamlit as st

from funnel.access.permissions import allowed
from funnel.audit.read import customer_history
from funnel.core.db import session_scope
from funnel.core.errors import PermissionDenied
from funnel.customers.edit import (
    assign_customer,
    assignable_users,
    delete_customer,
    share_customer,
    update_customer,
)
from funnel.customers.read import customer_detail
from funnel.customers.stages import move_stage
from funnel.pipeline.stages import get_pipeline
from pages._shared import customer_parts as parts
from pages._shared.common import current_language, get_engine, page_setup, tr

actor = page_setup("customer.read")
pipeline, lang = get_pipeline(), current_language()
st.title(tr("cust.title"))
customer_id = parts.chosen_customer_id()
if customer_id is None:
    st.info(tr("cust.none"), icon=":material/info:")
    parts.back_to_leads()
    st.stop()

can_edit, can_assign = allowed(actor, "customer.edit"), allowed(actor, "customer.assign")
try:
    with session_scope(get_engine()) as session:
        detail = customer_detail(session, actor=actor, customer_id=customer_id)
        audit = customer_history(session, actor=actor, customer_id=customer_id)
        users = assignable_users(session, actor=actor) if can_assign else []
except PermissionDenied as exc:
    st.error(tr("error.permission", action=exc.action), icon=":material/block:")
    parts.back_to_leads()
    st.stop()
except LookupError:
    st.warning(tr("cust.not_found"), icon=":material/search_off:")
    parts.back_to_leads()
    st.stop()
st.session_state[parts.CUSTOMER_ID_KEY] = customer_id
st.query_params["id"] = str(customer_id)  # so that the address bar is a link to this customer
# The version the user saw when they clicked: a stage move refuses to act on a customer changed since.
seen_key = f"cust_seen_{customer_id}"
seen_version = st.session_state.get(seen_key, detail.version)
st.session_state[seen_key] = detail.version
cid, number = detail.id, detail.customer_no

parts.back_to_leads()
if notice := st.session_state.pop(parts.NOTICE_KEY, None):
    st.success(notice, icon=":material/check_circle:")
    st.toast(notice, icon=":material/check_circle:")  # seen also when the form is scrolled far down
parts.header(detail, pipeline, lang)
st.subheader(tr("cust.contacts"))
if detail.contacts.empty:
    st.caption(tr("cust.no_contacts"))
else:
    parts.table(detail.contacts, "cust.contact", "cust_contacts")
if not detail.opportunities.empty:
    st.subheader(tr("cust.deals"))
    parts.table(detail.opportunities, "cust.deal", "cust_deals")
if not detail.contracts.empty:
    st.subheader(tr("cust.orders"))
    parts.table(detail.contracts, "cust.order", "cust_orders")
    if not detail.payments.empty:
        parts.table(detail.payments, "cust.payment", "cust_payments")
if not detail.objections.empty:
    st.subheader(tr("cust.objections"))
    objections = detail.objections.assign(
        category=[tr(f"objection.{c}") for c in detail.objections["category"]],
        stage=[pipeline.name(k, lang) if isinstance(k, str) else k for k in detail.objections["stage"]],
    )
    parts.table(objections, "cust.objection", "cust_objections")

if not can_edit:
    st.info(tr("cust.read_only"), icon=":material/visibility:")
    parts.details(detail)
else:
    submitted, values, version, slots = parts.edit_form(detail)
    if submitted and parts.attempt(
        lambda s: update_customer(s, actor=actor, customer_id=cid, changes=values, expected_version=version),
        slots,
        number,
    ):
        parts.forget_edit_form()
        parts.done(tr("cust.saved", customer_no=number))

    moved, target, reason, slots = parts.stage_form(detail, pipeline, lang)
    if moved and parts.attempt(
        lambda s: move_stage(
            s,
            customer_id=cid,
            to_stage=target,
            actor=actor,
            expected_version=seen_version,
            lost_reason=reason,
        ),
        slots,
        number,
    ):
        parts.forget_edit_form()  # the form's version is behind now; load the stored values again
        parts.done(tr("cust.moved", customer_no=number, stage=pipeline.name(target, lang)))

if can_assign:
    st.subheader(tr("cust.assign"))
    left, right = st.columns(2)
    others = [user for user in users if user.id != detail.owner_id]
    with left:
        owner, slots = parts.user_choice("cust_assign", others, lang)
    if owner is not None:
        owner_id = owner.id
        if parts.attempt(
            lambda s: assign_customer(s, actor=actor, customer_id=cid, owner_id=owner_id), slots, number
        ):
            parts.forget_edit_form()
            parts.done(tr("cust.assigned", customer_no=number, owner=owner.display_name))
    with right:
        share, slots = parts.user_choice("cust_share", others, lang)
    if share is not None:
        share_id = share.id
        if parts.attempt(
            lambda s: share_customer(s, actor=actor, customer_id=cid, user_id=share_id), slots, number
        ):
            parts.done(tr("cust.shared", customer_no=number, user=share.display_name))

if allowed(actor, "customer.delete"):
    st.subheader(tr("cust.delete"))
    confirmed = st.checkbox(tr("cust.delete_confirm", customer_no=number), key="cust_delete_confirm")
    slots = {"form": st.empty()}
    if st.button(
        tr("cust.delete_submit"), key="cust_delete", type="primary", disabled=not confirmed
    ) and parts.attempt(lambda s: delete_customer(s, actor=actor, customer_id=cid), slots, number):
        st.session_state.pop(parts.CUSTOMER_ID_KEY, None)
        st.session_state[parts.LEADS_NOTICE_KEY] = tr("cust.deleted", customer_no=number)
        st.switch_page(parts.LEADS_PAGE)

parts.history(detail, audit, pipeline, lang)

"""Customer detail: who they are, edit, move the stage, assign or share, delete, and the history.

The page offers only what the role allows; funnel/ checks every call again, so a refused action shows
a message rather than a traceback.
"""

import logging
from typing import Any

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from funnel.access.permissions import allowed
from funnel.audit.read import customer_history
from funnel.core.db import session_scope
from funnel.core.errors import NotFound, PermissionDenied, UserError
from funnel.customers.edit import (
    assign_customer,
    assignable_users,
    delete_customer,
    share_customer,
    unshare_customer,
    update_customer,
)
from funnel.customers.guidance import customer_activities, customer_tasks, customer_timeline, stage_guide
from funnel.customers.lists import list_values
from funnel.customers.read import customer_detail
from funnel.customers.stages import LOST_REASON_LIST, REOPEN_REASON_LIST, move_stage
from funnel.customers.tags import set_tags
from funnel.pipeline.stages import get_pipeline
from funnel.working.contacts import add_contact, edit_contact, list_contacts, remove_contact
from funnel.working.header import customer_header
from pages._shared import customer_parts as parts
from pages._shared import forms
from pages._shared.activity_parts import activity_section
from pages._shared.closing_parts import deals_section
from pages._shared.common import current_language, get_engine, tr
from pages._shared.qualify_parts import qualification_section
from pages._shared.shell import page_setup
from pages._shared.task_parts import task_section

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
        guide = stage_guide(session, actor=actor, customer_id=customer_id, pipeline=pipeline)
        contacts = list_contacts(session, actor=actor, customer_id=customer_id)
        activities = customer_activities(session, actor=actor, customer_id=customer_id)
        tasks = customer_tasks(session, actor=actor, customer_id=customer_id)
        timeline = customer_timeline(session, actor=actor, customer_id=customer_id)
        facts = customer_header(session, actor=actor, customer_id=customer_id, lang=lang)
        reasons = parts.Reasons(
            lost={v.code: v.label(lang) for v in list_values(session, LOST_REASON_LIST)},
            reopen={v.code: v.label(lang) for v in list_values(session, REOPEN_REASON_LIST)},
        )
except PermissionDenied as exc:
    st.error(tr("error.permission", action=exc.action), icon=":material/block:")
    parts.back_to_leads()
    st.stop()
except (NotFound, LookupError):
    st.warning(tr("cust.not_found"), icon=":material/search_off:")
    parts.back_to_leads()
    st.stop()
except UserError as exc:
    forms.show_errors({"form": st.empty()}, exc.errors)
    parts.back_to_leads()
    st.stop()
except SQLAlchemyError:
    logging.getLogger(__name__).exception("reading customer %s failed", customer_id)
    st.error(tr(forms.DATABASE_ERROR), icon=":material/error:")
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
forms.show_notice()
parts.header(detail, facts, pipeline, lang)
if can_edit:
    with st.expander(tr("head.tags.edit"), icon=":material/sell:"):
        tagged, names, slots = parts.tag_form(facts)
    if tagged:
        forms.save(
            slots,
            lambda s: set_tags(s, actor=actor, customer_id=cid, names=names),
            notice=tr("head.tags.saved", customer_no=number),
            then=lambda _: parts.forget_edit_form(),  # a tag change is a new version of the customer
        )
parts.stage_path(guide, pipeline, lang)
parts.red_flags(guide)
parts.guidance_panel(guide, pipeline, lang)
TABS = ("details", "contacts", "activities", "tasks", "deals", "timeline", "history")
tab = dict(zip(TABS, st.tabs([tr(f"cust.tab.{name}") for name in TABS]), strict=True))

with tab["contacts"]:
    if not contacts:
        st.caption(tr("cust.no_contacts"))
    else:
        st.dataframe(parts.contact_rows(contacts), hide_index=True, key="cust_contacts")
    if allowed(actor, "customer.edit"):
        added, values, slots = parts.contact_form(None)
        if added:
            forms.save(
                slots,
                lambda s: add_contact(s, actor=actor, customer_id=cid, values=values),
                notice=tr("contact.added", customer_no=number),
            )
        by_id = {c.id: c for c in contacts}
        chosen = st.selectbox(
            tr("contact.choose"),
            [None, *by_id],
            format_func=lambda i: "—" if i is None else by_id[i].name,
            key="contact_choose",
        )
        if chosen is not None:
            picked = by_id[chosen]
            edited, values, slots = parts.contact_form(picked)
            if edited:
                forms.save(
                    slots,
                    lambda s: edit_contact(
                        s,
                        actor=actor,
                        customer_id=cid,
                        contact_id=picked.id,
                        values=values,
                        expected_version=picked.version,
                    ),
                    notice=tr("contact.saved", name=picked.name),
                    stale_record=number,
                )
            if st.button(tr("contact.remove"), key=f"contact_remove_{picked.id}"):
                forms.save(
                    {"form": st.empty()},
                    lambda s: remove_contact(
                        s, actor=actor, customer_id=cid, contact_id=picked.id, expected_version=picked.version
                    ),
                    notice=tr("contact.removed", name=picked.name),
                    stale_record=number,
                )

with tab["activities"]:
    activity_section(actor, cid)

with tab["tasks"]:
    task_section(actor, cid)

with tab["deals"]:
    deals_section(actor, cid, number)

with tab["timeline"]:
    parts.simple_rows(parts.timeline_rows(timeline, pipeline, lang), "cust_timeline")

with tab["details"]:
    qualification_section(actor, cid)
    # Each write: errors under their field, the input kept; after the commit a notice and a fresh page.
    saving: dict[str, Any] = {"failed": "cust.save_failed", "stale_record": number}
    if not can_edit:
        st.info(tr("cust.read_only"), icon=":material/visibility:")
        parts.details(detail)
    else:
        submitted, values, version, loaded, slots = parts.edit_form(detail)
        if submitted:
            forms.save(
                slots,
                lambda s: update_customer(
                    s, actor=actor, customer_id=cid, changes=values, expected_version=version, loaded=loaded
                ),
                notice=tr("cust.saved", customer_no=number),
                then=lambda _: parts.forget_edit_form(),
                **saving,
            )

        moved, target, given, slots = parts.stage_form(detail, reasons, pipeline, lang)
        if moved:
            forms.save(
                slots,
                lambda s: move_stage(
                    s,
                    customer_id=cid,
                    to_stage=target,
                    actor=actor,
                    expected_version=seen_version,
                    lost_reason=given.get("lost_reason"),
                    lost_note=given.get("lost_note"),
                    reopen_reason=given.get("reopen_reason"),
                    reopen_note=given.get("reopen_note"),
                ),
                notice=tr("cust.moved", customer_no=number, stage=pipeline.name(target, lang)),
                then=lambda _: parts.forget_edit_form(),  # the form's version is behind now: load it again
                **saving,
            )

    if can_assign:
        st.subheader(tr("cust.assign"))
        left, right = st.columns(2)
        others = [user for user in users if user.id != detail.owner_id]
        with left:
            owner, slots = parts.user_choice("cust_assign", others, lang)
        if owner is not None:
            owner_id = owner.id
            forms.save(
                slots,
                lambda s: assign_customer(s, actor=actor, customer_id=cid, owner_id=owner_id),
                notice=tr("cust.assigned", customer_no=number, owner=owner.display_name),
                then=lambda _: parts.forget_edit_form(),
                **saving,
            )
        with right:
            share, slots = parts.user_choice("cust_share", others, lang)
        if share is not None:
            share_id = share.id
            forms.save(
                slots,
                lambda s: share_customer(s, actor=actor, customer_id=cid, user_id=share_id),
                notice=tr("cust.shared", customer_no=number, user=share.display_name),
                **saving,
            )
        if detail.shares:
            with right:
                revoked, slots = parts.user_choice("cust_unshare", list(detail.shares), lang)
            if revoked is not None:
                revoked_id = revoked.id
                forms.save(
                    slots,
                    lambda s: unshare_customer(s, actor=actor, customer_id=cid, user_id=revoked_id),
                    notice=tr("cust.unshared", customer_no=number, user=revoked.display_name),
                    **saving,
                )

    def _to_the_list(_: object) -> None:
        st.session_state.pop(parts.CUSTOMER_ID_KEY, None)
        st.switch_page(parts.LEADS_PAGE)

    if allowed(actor, "customer.delete"):
        st.subheader(tr("cust.delete"))
        confirmed = st.checkbox(tr("cust.delete_confirm", customer_no=number), key="cust_delete_confirm")
        slots = {"form": st.empty()}
        if st.button(tr("cust.delete_submit"), key="cust_delete", type="primary", disabled=not confirmed):
            forms.save(
                slots,
                lambda s: delete_customer(s, actor=actor, customer_id=cid),
                notice=tr("cust.deleted", customer_no=number),
                then=_to_the_list,
                **saving,
            )

with tab["history"]:
    parts.history(detail, audit, pipeline, lang, reasons)

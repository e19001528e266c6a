"""Lead entry: a rep types a new lead; errors show under the field they name and the input is kept.

A lead that matches an existing customer (phone, e-mail, WeChat, or company and name) is not stored:
the page shows what matched and offers to open that customer, add the person as its contact, or save
anyway with a reason (audited). The typed input survives every rerun and every refusal.
"""

import streamlit as st

from funnel.capture.channels import channel_options
from funnel.capture.lead_form import NOTE_FIELD, campaign_options, lead_form_defaults, lead_input
from funnel.capture.leads import add_as_contact, create_lead
from funnel.core.db import session_scope
from funnel.customers.duplicates import DuplicateLead, DuplicateSummary
from funnel.customers.fields import GRADES
from funnel.pipeline.stages import get_pipeline
from pages._shared import forms
from pages._shared.common import (
    cached_segment_values,
    current_language,
    database_url,
    get_engine,
    keep_translated_choices,
    tr,
)
from pages._shared.customer_parts import open_customer
from pages._shared.shell import page_setup

actor = page_setup("customer.create")
KEY = "lead_{}".format  # widget key of a form field
DUPLICATE_KEY = "lead_duplicate"  # the customer the last save matched (a DuplicateSummary)
pipeline, lang = get_pipeline(), current_language()
defaults = lead_form_defaults(pipeline.first)
# After a save the form starts empty again; after an error nothing is reset, so the input stays.
reset = st.session_state.pop("lead_form_reset", False)
for name, value in defaults.items():
    if reset:
        st.session_state[KEY(name)] = value
    else:
        st.session_state.setdefault(KEY(name), value)
if reset:
    st.session_state.pop(DUPLICATE_KEY, None)
    st.session_state[KEY("duplicate_reason")] = ""

st.title(tr("lead.title"))
st.caption(tr("lead.intro"))
forms.show_notice()
keep_translated_choices("lead_stage")
with forms.guarded_read():
    channels = channel_options(cached_segment_values(database_url(), "channel", actor))
    with session_scope(get_engine()) as session:
        campaigns = campaign_options(session, actor=actor, lang=lang)


def typed() -> dict[str, str | None]:
    return {name: st.session_state.get(KEY(name)) for name in defaults}


def remember_duplicate(write):  # type: ignore[no-untyped-def]
    """`write`, keeping the customer a DuplicateLead names for the panel below the form."""

    def guarded(session):  # type: ignore[no-untyped-def]
        try:
            return write(session)
        except DuplicateLead as exc:
            st.session_state[DUPLICATE_KEY] = exc.summary
            raise

    return guarded


slots: forms.Slots = {}
with st.form("lead_form", enter_to_submit=False):
    left, right = st.columns(2)
    for name in ("name", "company", "contact_name", "phone", "email", "wechat"):
        left.text_input(tr(f"lead.{name}"), key=KEY(name), placeholder=tr(f"lead.{name}.placeholder"))
        slots[name] = left.empty()
    right.selectbox(
        tr("lead.channel"),
        options=channels,
        accept_new_options=True,
        placeholder=tr("lead.channel.placeholder"),
        key=KEY("channel"),
    )
    slots["channel"] = right.empty()
    right.selectbox(
        tr("lead_entry.campaign"),
        options=list(campaigns),
        format_func=lambda code: campaigns.get(code, code),
        accept_new_options=True,
        placeholder=tr("lead_entry.campaign.placeholder"),
        key=KEY("campaign"),
    )
    slots["campaign"] = right.empty()
    for name in ("region", "industry", "tags"):
        right.text_input(tr(f"lead.{name}"), key=KEY(name), placeholder=tr(f"lead.{name}.placeholder"))
        slots[name] = right.empty()
    right.selectbox(tr("lead.grade"), ["", *GRADES], format_func=lambda g: g or "—", key=KEY("grade"))
    slots["grade"] = right.empty()
    right.selectbox(
        tr("lead.stage"), pipeline.keys, format_func=lambda key: pipeline.name(key, lang), key=KEY("stage")
    )
    slots["stage"] = right.empty()
    st.text_area(
        tr("lead_entry.note"), key=KEY(NOTE_FIELD), placeholder=tr("lead_entry.note.placeholder"), height=90
    )
    slots[NOTE_FIELD] = st.empty()
    slots["form"] = st.empty()
    submitted = st.form_submit_button(tr("lead.save"), key="lead_submit", type="primary")

if submitted:
    st.session_state.pop(DUPLICATE_KEY, None)
    values = typed()
    forms.save(
        slots,
        remember_duplicate(lambda session: create_lead(session, lead_input(values), actor=actor).customer_no),
        notice=lambda customer_no: tr("lead.saved", customer_no=customer_no),
        then=lambda _: st.session_state.update(lead_form_reset=True),
        failed="lead.save_failed",
    )


def duplicate_panel(found: DuplicateSummary) -> None:
    """What matched, the existing customer as far as the reader may see it, and the three ways on."""
    field_label = tr(f"lead_entry.match.{found.field}")
    with st.container(border=True, key="lead_duplicate_panel"):
        st.subheader(tr("lead_entry.duplicate.title"))
        if not found.visible:
            st.warning(tr("lead_entry.duplicate.hidden", field=field_label), icon=":material/lock:")
        else:
            assert found.customer_id is not None and found.stage is not None
            stage = pipeline.name(found.status if found.status in ("won", "lost") else found.stage, lang)
            st.warning(
                tr(
                    "lead_entry.duplicate.visible",
                    field=field_label,
                    customer_no=found.customer_no or "",
                    name=found.name or "",
                    company=found.company or "—",
                    stage=stage,
                    owner=found.owner_name or tr("lead_entry.duplicate.no_owner"),
                ),
                icon=":material/content_copy:",
            )
        slots_below: forms.Slots = {"form": st.empty()}
        open_col, contact_col = st.columns(2)
        if found.visible and found.customer_id is not None:
            if open_col.button(
                tr("lead_entry.duplicate.open"), key="lead_dup_open", icon=":material/open_in_new:"
            ):
                open_customer(found.customer_id)
            if found.editable:
                customer_id = found.customer_id
                if contact_col.button(
                    tr("lead_entry.duplicate.add_contact"),
                    key="lead_dup_contact",
                    icon=":material/person_add:",
                ):
                    values = typed()
                    forms.save(
                        {**slots, **slots_below},
                        lambda session: (
                            add_as_contact(
                                session, lead_input(values), customer_id=customer_id, actor=actor
                            ).customer_no
                        ),
                        notice=lambda customer_no: tr(
                            "lead_entry.duplicate.contact_added", customer_no=customer_no
                        ),
                        then=lambda _: st.session_state.update(lead_form_reset=True),
                        failed="lead.save_failed",
                    )
            else:
                contact_col.caption(tr("lead_entry.duplicate.not_editable"))
        else:
            contact_col.caption(tr("lead_entry.duplicate.not_editable"))
        st.text_input(
            tr("lead_entry.duplicate.reason"),
            key=KEY("duplicate_reason"),
            placeholder=tr("lead_entry.duplicate.reason.placeholder"),
        )
        reason_slot = st.empty()
        if st.button(tr("lead_entry.duplicate.save_anyway"), key="lead_dup_save"):
            values = typed()
            reason = st.session_state.get(KEY("duplicate_reason")) or ""
            forms.save(
                {**slots, **slots_below, "duplicate_reason": reason_slot},
                remember_duplicate(
                    lambda session: (
                        create_lead(
                            session, lead_input(values), actor=actor, duplicate_reason=reason
                        ).customer_no
                    )
                ),
                notice=lambda customer_no: tr("lead.saved", customer_no=customer_no),
                then=lambda _: st.session_state.update(lead_form_reset=True),
                failed="lead.save_failed",
            )


if (duplicate := st.session_state.get(DUPLICATE_KEY)) is not None:
    duplicate_panel(duplicate)

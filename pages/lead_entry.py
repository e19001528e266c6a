"""Lead entry: a rep types a new lead; errors show under the field they name and the input is kept."""

import streamlit as st

from funnel.capture.channels import channel_options
from funnel.capture.lead_form import lead_form_defaults, lead_input
from funnel.capture.leads import create_lead
from funnel.customers.fields import GRADES
from funnel.pipeline.stages import get_pipeline
from pages._shared import forms
from pages._shared.common import (
    cached_segment_values,
    current_language,
    database_url,
    keep_translated_choices,
    tr,
)
from pages._shared.shell import page_setup

actor = page_setup("customer.create")
KEY = "lead_{}".format  # widget key of a form field
pipeline, lang = get_pipeline(), current_language()
defaults = lead_form_defaults(pipeline.first)
# After a save the form starts empty again; after an error nothing is reset, so the input stays.
reset = st.session_state.pop("lead_form_reset", False)
for name, value in defaults.items():
    if reset:
        st.session_state[KEY(name)] = value
    else:
        st.session_state.setdefault(KEY(name), value)

st.title(tr("lead.title"))
st.caption(tr("lead.intro"))
forms.show_notice()
keep_translated_choices("lead_stage")
with forms.guarded_read():
    channels = channel_options(cached_segment_values(database_url(), "channel", actor))

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
    for name in ("region", "industry", "tags"):
        right.text_input(tr(f"lead.{name}"), key=KEY(name), placeholder=tr(f"lead.{name}.placeholder"))
        slots[name] = right.empty()
    right.selectbox(tr("lead.grade"), ["", *GRADES], format_func=lambda g: g or "—", key=KEY("grade"))
    slots["grade"] = right.empty()
    right.selectbox(
        tr("lead.stage"), pipeline.keys, format_func=lambda key: pipeline.name(key, lang), key=KEY("stage")
    )
    slots["stage"] = right.empty()
    slots["form"] = st.empty()
    submitted = st.form_submit_button(tr("lead.save"), key="lead_submit", type="primary")

if submitted:
    values = {name: st.session_state.get(KEY(name)) for name in defaults}
    forms.save(
        slots,
        lambda session: create_lead(session, lead_input(values), actor=actor).customer_no,
        notice=lambda customer_no: tr("lead.saved", customer_no=customer_no),
        then=lambda _: st.session_state.update(lead_form_reset=True),
        failed="lead.save_failed",
    )

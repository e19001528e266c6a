"""Lead entry: a rep types a new lead; errors show under the field they name and the input is kept."""

import logging

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from funnel.capture.channels import channel_options
from funnel.capture.lead_form import lead_form_defaults, lead_input
from funnel.capture.leads import create_lead
from funnel.core.db import session_scope
from funnel.core.errors import PermissionDenied, ValidationError
from funnel.customers.fields import GRADES
from funnel.pipeline.stages import get_pipeline
from pages._shared.common import (
    cached_segment_values,
    clear_data_caches,
    current_language,
    database_url,
    get_engine,
    page_setup,
    tr,
)

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
if saved := st.session_state.pop("lead_saved", None):
    st.success(tr("lead.saved", customer_no=saved), icon=":material/check_circle:")

slots = {}
with st.form("lead_form", enter_to_submit=False):
    left, right = st.columns(2)
    for name in ("name", "company", "contact_name", "phone", "email", "wechat"):
        left.text_input(tr(f"lead.{name}"), key=KEY(name), placeholder=tr(f"lead.{name}.placeholder"))
        slots[name] = left.empty()
    right.selectbox(
        tr("lead.channel"),
        options=channel_options(cached_segment_values(database_url(), "channel", actor)),
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
    try:
        with session_scope(get_engine()) as session:
            customer_no = create_lead(session, lead_input(values), actor=actor).customer_no
    except ValidationError as exc:
        messages: dict[str, list[str]] = {}
        for error in exc.errors:
            field = error.field if error.field in slots else "form"
            messages.setdefault(field, []).append(tr(error.code, **error.params))
        for field, texts in messages.items():
            slots[field].error("  \n".join(texts), icon=":material/error:")
    except PermissionDenied as exc:
        slots["form"].error(tr("error.permission", action=exc.action), icon=":material/block:")
    except SQLAlchemyError:
        logging.getLogger(__name__).exception("saving a lead failed")
        slots["form"].error(tr("lead.save_failed"), icon=":material/error:")
    else:
        clear_data_caches()
        st.session_state["lead_saved"] = customer_no
        st.session_state["lead_form_reset"] = True
        st.rerun()

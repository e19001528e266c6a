"""Channels (managers, admins): each intake source's form link and QR code, its API token, on / off."""

import pandas as pd
import streamlit as st

from funnel.capture.intake import (
    add_source,
    list_sources,
    qr_png,
    revoke_token,
    rotate_token,
    set_active,
    set_source_tags,
)
from funnel.core.db import session_scope
from funnel.core.export import spreadsheet_safe
from funnel.core.settings import get_settings
from funnel.customers.lists import labels
from funnel.customers.tags import tag_choices
from funnel.integrations.public_routes import API_LEADS_PATH
from pages._shared import admin_parts as parts
from pages._shared import forms
from pages._shared.common import current_language, get_engine, tr
from pages._shared.shell import page_setup

actor = page_setup("channel.manage")
lang = current_language()
ADD = "channels_add"
TOKEN_KEY = "channels_new_token"  # (source name, token) for the next run only: shown once, then gone


def keep_token(name: str, token: str, *, reset_add: bool = False) -> None:
    st.session_state[TOKEN_KEY] = (name, token)
    if reset_add:
        parts.flag("channels_add_done")  # the add form starts empty again


st.title(tr("channels.title"))
st.caption(tr("channels.intro"))
forms.show_notice()
if issued := st.session_state.pop(TOKEN_KEY, None):
    st.warning(tr("channels.token_once", name=issued[0]), icon=":material/key:")
    st.code(issued[1], language=None)

with forms.guarded_read(), session_scope(get_engine()) as session:
    sources = list_sources(session, actor=actor)
    channel_names = labels(session, "channel", lang)
    tag_names = tag_choices(session, lang)


def source_name(source_id: int) -> str:
    source = next(s for s in sources if s.id == source_id)
    channel = channel_names.get(source.channel, source.channel)
    return f"{channel} / {source.campaign}" if source.campaign else channel


st.subheader(tr("channels.list"))
if not sources:
    st.info(tr("channels.empty"))
else:
    table = pd.DataFrame(
        [
            {
                "channel": channel_names.get(s.channel, s.channel),
                "campaign": s.campaign or "",
                "form_url": s.form_url,
                "active": s.active,
                "has_token": s.has_token,
                "leads": s.leads,
                "created_at": s.created_at,
            }
            for s in sources
        ]
    )
    st.dataframe(
        spreadsheet_safe(table),
        hide_index=True,
        width="stretch",
        column_config={name: tr(f"channels.col.{name}") for name in table.columns},
        key="channels_table",
    )
st.caption(tr("channels.api_hint", url=get_settings().public_base_url + API_LEADS_PATH))

st.subheader(tr("channels.add"))
parts.form_state(ADD, {"channel": "", "campaign": ""}, reset=st.session_state.pop("channels_add_done", False))
add_slots: forms.Slots = {}
with st.form("channels_add_form", enter_to_submit=False):
    left, right = st.columns(2)
    left.text_input(tr("channels.add.channel"), key=f"{ADD}_channel", help=tr("channels.add.channel.help"))
    add_slots["channel"] = left.empty()
    right.text_input(tr("channels.add.campaign"), key=f"{ADD}_campaign")
    add_slots["campaign"] = right.empty()
    add_slots["form"] = st.empty()
    add_clicked = st.form_submit_button(tr("channels.add_submit"), key="channels_add_submit", type="primary")
if add_clicked:
    typed = parts.form_values(ADD, ("channel", "campaign"))
    forms.save(
        add_slots,
        lambda s: add_source(s, channel=typed["channel"] or "", campaign=typed["campaign"], actor=actor),
        notice=lambda new: tr("channels.added", name=new.source.name),
        then=lambda new: keep_token(new.source.name, new.token, reset_add=True),
        areas=(),
        failed="channels.save_failed",
    )

if sources:
    st.subheader(tr("channels.manage"))
    picked_id: int = st.selectbox(
        tr("channels.pick"), [s.id for s in sources], format_func=source_name, key="channels_pick"
    )
    picked = next(s for s in sources if s.id == picked_id)
    name = source_name(picked.id)
    slots: forms.Slots = {"form": st.empty()}
    st.code(picked.form_url, language=None)
    st.download_button(
        tr("channels.qr_download"),
        data=qr_png(picked.form_url),
        file_name=f"loudou-form-{picked.slug}.png",
        mime="image/png",
        key="channels_qr",
        icon=":material/qr_code_2:",
    )
    active = st.toggle(tr("channels.active"), value=picked.active, key=f"channels_active_{picked.id}")
    if active != picked.active:
        forms.save(
            slots,
            lambda s: set_active(s, picked.id, active, actor=actor),
            notice=tr("channels.switched_on" if active else "channels.switched_off", name=name),
            areas=(),
            failed="channels.save_failed",
        )
    with st.form(f"channels_tags_form_{picked.id}", enter_to_submit=False):
        options = list(dict.fromkeys([*tag_names, *picked.tags]))
        chosen_tags = st.multiselect(
            tr("channels.tags"),
            options,
            default=list(picked.tags),
            format_func=lambda code: tag_names.get(code, code),
            help=tr("channels.tags.help"),
            key=f"channels_tags_{picked.id}",
        )
        slots["tags"] = st.empty()
        tags_clicked = st.form_submit_button(tr("channels.tags_save"), key="channels_tags_save")
    if tags_clicked:
        forms.save(
            slots,
            lambda s: set_source_tags(s, picked.id, chosen_tags, actor=actor),
            notice=tr("channels.tags_saved", name=name),
            areas=(),
            failed="channels.save_failed",
        )
    rotate_col, revoke_col = st.columns(2)
    if rotate_col.button(tr("channels.rotate"), key="channels_rotate"):
        forms.save(
            slots,
            lambda s: rotate_token(s, picked.id, actor=actor),
            notice=tr("channels.rotated", name=name),
            then=lambda new: keep_token(name, new.token),
            areas=(),
            failed="channels.save_failed",
        )
    if revoke_col.button(tr("channels.revoke"), key="channels_revoke", disabled=not picked.has_token):
        forms.save(
            slots,
            lambda s: revoke_token(s, picked.id, actor=actor),
            notice=tr("channels.revoked", name=name),
            areas=(),
            failed="channels.save_failed",
        )

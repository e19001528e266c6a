"""Users (administrators): every account; add one; change role, routing or state; reset a password."""

import pandas as pd
import streamlit as st

from funnel.access.permissions import ROLES
from funnel.accounts.users import UserInput, add_user, set_password, update_user, user_table
from funnel.audit.format import local_times
from funnel.core.db import session_scope
from funnel.core.errors import FieldError
from funnel.core.export import spreadsheet_safe
from funnel.core.i18n import t
from pages._shared import admin_parts as parts
from pages._shared import forms
from pages._shared.common import (
    USERS,
    browser_zone,
    current_language,
    get_engine,
    keep_translated_choices,
    tr,
)
from pages._shared.shell import page_setup

actor = page_setup("users.manage")
lang = current_language()
keep_translated_choices("users_add_role", "users_edit_role")
ADD, EDIT, RESET = "users_add", "users_edit", "users_reset"  # widget key prefixes, one per form
ROUTING = ("region", "industry", "team")
EDITED = ("display_name", "email", "role", *ROUTING, "is_active")
PASSWORDS = ("password", "repeat")
MISMATCH = [FieldError("repeat", "auth.password_mismatch")]


def role_name(role: str) -> str:
    return t(f"role.{role}", lang)  # not tr: Streamlit also calls format functions outside the script


def as_text(value: object) -> str:
    return "" if value is None or pd.isna(value) else str(value)


st.title(tr("users.title"))
st.caption(tr("users.intro"))
forms.show_notice()
with forms.guarded_read(), session_scope(get_engine()) as session:
    users = user_table(session, actor=actor)
zone = browser_zone()
shown = users.assign(
    role=users["role"].map(role_name),
    locked_until=local_times(users["locked_until"], zone),
    last_login_at=local_times(users["last_login_at"], zone),
).fillna("")
st.subheader(tr("users.list"))
st.dataframe(
    spreadsheet_safe(shown),
    hide_index=True,
    width="stretch",
    column_config={name: tr(f"users.{name}") for name in shown.columns},
)
st.caption(tr("users.times_in", zone=str(zone)))

# Add a user. After a save the form starts empty again; after an error the input stays.
st.subheader(tr("users.add"))
empty_add = {**dict.fromkeys(("username", "display_name", "email", *ROUTING, *PASSWORDS), ""), "role": "rep"}
parts.form_state(ADD, empty_add, reset=st.session_state.pop("users_add_done", False))
add_slots: forms.Slots = {}
with st.form("users_add_form", enter_to_submit=False):
    left, right = st.columns(2)
    parts.text_fields(left, ADD, ("username", "display_name", "email"), add_slots)
    left.selectbox(tr("users.role"), ROLES, format_func=role_name, key=f"{ADD}_role")
    add_slots["role"] = left.empty()
    parts.text_fields(right, ADD, ROUTING, add_slots)
    parts.text_fields(right, ADD, PASSWORDS, add_slots, secret=True)
    add_slots["form"] = st.empty()
    add_clicked = st.form_submit_button(tr("users.add_submit"), key="users_add_submit", type="primary")
if add_clicked:
    new = parts.form_values(ADD, empty_add)
    password = new.pop("password")
    if password != new.pop("repeat"):
        forms.show_errors(add_slots, MISMATCH)
    else:
        forms.save(
            add_slots,
            lambda s: add_user(s, UserInput(**new), password=password, actor=actor).username,
            notice=lambda added: tr("users.added", username=added),
            then=lambda _: parts.flag("users_add_done"),
            areas=(USERS,),
            failed="users.save_failed",
        )

st.subheader(tr("users.edit"))
names = dict(zip(users["username"], users["display_name"], strict=True))
picked: str = st.selectbox(
    tr("users.pick"), list(names), format_func=lambda name: f"{names[name]} ({name})", key="users_pick"
)
row = users.set_index("username").loc[picked]
if locked := shown.set_index("username").loc[picked, "locked_until"]:
    st.warning(tr("users.locked_now", username=picked, until=locked), icon=":material/lock:")
# The edit form shows the picked user as stored: anew when another user is picked or after a save.
current = {name: as_text(row[name]) for name in EDITED} | {"is_active": bool(row["is_active"])}
edit_done = st.session_state.pop("users_edit_done", False)
reset_done = st.session_state.pop("users_reset_done", False)
other_user = st.session_state.get("users_edit_of") != picked
st.session_state["users_edit_of"] = picked
parts.form_state(EDIT, current, reset=edit_done or other_user)
parts.form_state(RESET, dict.fromkeys(PASSWORDS, ""), reset=reset_done or other_user)

edit_col, reset_col = st.columns([3, 2], gap="large")
edit_slots: forms.Slots = {}
with edit_col.form("users_edit_form", enter_to_submit=False):
    parts.text_fields(st, EDIT, ("display_name", "email"), edit_slots)
    st.selectbox(tr("users.role"), ROLES, format_func=role_name, key=f"{EDIT}_role")
    edit_slots["role"] = st.empty()
    parts.text_fields(st, EDIT, ROUTING, edit_slots)
    st.toggle(tr("users.is_active"), key=f"{EDIT}_is_active")
    edit_slots["is_active"] = st.empty()
    edit_slots["form"] = st.empty()
    edit_clicked = st.form_submit_button(tr("users.edit_submit"), key="users_edit_submit", type="primary")
if edit_clicked:
    changes = parts.form_values(EDIT, EDITED)
    forms.save(
        edit_slots,
        lambda s: update_user(s, picked, actor=actor, **changes),
        notice=tr("users.saved", username=picked),
        then=lambda _: parts.flag("users_edit_done"),
        areas=(USERS,),
        failed="users.save_failed",
    )

reset_slots: forms.Slots = {}
with reset_col.form("users_reset_form", enter_to_submit=False):
    st.markdown(f"**{tr('users.reset')}**")
    parts.text_fields(st, RESET, PASSWORDS, reset_slots, secret=True)
    reset_slots["form"] = st.empty()
    reset_clicked = st.form_submit_button(tr("users.reset_submit"), key="users_reset_submit")
if reset_clicked:
    typed = parts.form_values(RESET, PASSWORDS)
    if typed["password"] != typed["repeat"]:
        forms.show_errors(reset_slots, MISMATCH)
    else:
        forms.save(
            reset_slots,
            lambda s: set_password(s, picked, typed["password"], actor=actor),
            notice=tr("users.reset_done", username=picked),
            then=lambda _: parts.flag("users_reset_done"),
            areas=(USERS,),
            failed="users.save_failed",
        )

"""What the users and audit pages share: form state, errors under their field, one guarded write."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from funnel.core.db import session_scope
from funnel.core.errors import FieldError, PermissionDenied, ValidationError
from funnel.core.i18n import t
from pages._shared.common import clear_data_caches, current_language, get_engine, tr

NOTICE_KEY = "users_notice"
_LANG_SEEN_KEY = "admin_lang_seen"
T = TypeVar("T")
Slots = dict[str, Any]  # field name -> the placeholder under that field ("form": under the whole form)


def keep_translated_choices(*keys: str) -> None:
    """Call before drawing selectboxes whose labels are translated.

    A selectbox sends back the label of its choice, which matches no option after a language switch;
    handing it the choice itself (as common.language_switch does for its keys) lets it be labelled anew.
    """
    lang = current_language()
    if st.session_state.get(_LANG_SEEN_KEY, lang) != lang:
        for key in keys:
            if key in st.session_state:
                st.session_state[key] = st.session_state[key]
    st.session_state[_LANG_SEEN_KEY] = lang


def translated(prefix: str, value: object, lang: str) -> str:
    """The message `prefix.value` in `lang`, or the value itself when no catalogue names it.

    `lang` is passed in, not read, because Streamlit also calls format functions outside the script.
    """
    key = f"{prefix}.{value}"
    text = t(key, lang)
    return str(value) if text == key else text


def form_state(prefix: str, values: Mapping[str, object], *, reset: bool) -> None:
    """Give each field of a form its starting value: after a save (reset) anew, otherwise keep the input."""
    for name, value in values.items():
        if reset:
            st.session_state[f"{prefix}_{name}"] = value
        else:
            st.session_state.setdefault(f"{prefix}_{name}", value)


def form_values(prefix: str, names: Iterable[str]) -> dict[str, Any]:
    return {name: st.session_state.get(f"{prefix}_{name}") for name in names}


def text_fields(box: Any, prefix: str, names: Iterable[str], slots: Slots, secret: bool = False) -> None:
    """Text inputs labelled users.<name>, each followed by the place its error goes."""
    for name in names:
        kind = "password" if secret else "default"
        box.text_input(tr(f"users.{name}"), key=f"{prefix}_{name}", type=kind)
        slots[name] = box.empty()


def show_errors(slots: Slots, errors: Iterable[FieldError]) -> None:
    """Each error under the field it names; one the form has no field for goes under the form."""
    messages: dict[str, list[str]] = {}
    for error in errors:
        field = error.field if error.field in slots else "form"
        messages.setdefault(field, []).append(tr(error.code, **error.params))
    for field, texts in messages.items():
        slots[field].error("  \n".join(texts), icon=":material/error:")


def save(slots: Slots, write: Callable[[Session], T]) -> T | None:
    """Run one write in its own transaction: what it returns, or None after showing what went wrong."""
    try:
        with session_scope(get_engine()) as session:
            result = write(session)
    except ValidationError as exc:
        show_errors(slots, exc.errors)
    except PermissionDenied as exc:
        slots["form"].error(tr("error.permission", action=exc.action), icon=":material/block:")
    except LookupError:
        slots["form"].error(tr("users.gone"), icon=":material/error:")
    except SQLAlchemyError:
        logging.getLogger(__name__).exception("saving a user failed")
        slots["form"].error(tr("users.save_failed"), icon=":material/error:")
    else:
        clear_data_caches()
        return result
    return None


def saved(notice: str, *flags: str) -> None:
    """After a write: remember the success message, set the flags that reset forms, show it all anew."""
    st.session_state[NOTICE_KEY] = notice
    for flag in flags:
        st.session_state[flag] = True
    st.rerun()


def show_notice() -> None:
    if notice := st.session_state.pop(NOTICE_KEY, None):
        st.success(notice, icon=":material/check_circle:")

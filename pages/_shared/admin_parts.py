"""What the users and audit pages share: translated labels and form state kept by widget key."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import streamlit as st

from funnel.core.i18n import t
from pages._shared.common import tr
from pages._shared.forms import Slots


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


def flag(name: str) -> None:
    """Set a session flag the next run reads (and pops), e.g. to start a saved form empty again."""
    st.session_state[name] = True

"""The running app's group-bot sender: one daemon thread per server process (st.cache_resource).

Off with CRM_NOTIFY_IN_APP=0 (then run `python -m funnel notify` as its own process), and never under
AppTest: a test that wants it starts funnel.integrations.outbox.Sender itself.
"""

from __future__ import annotations

import sys

import streamlit as st

from funnel.core.settings import get_settings
from funnel.integrations.outbox import Sender
from pages._shared.common import database_url, get_engine


@st.cache_resource(show_spinner=False)
def _sender(url: str) -> Sender:
    sender = Sender(get_engine(), get_settings().notify_interval_seconds)
    sender.start()
    return sender


def start_outbox_sender() -> None:
    """Start the sender once per process (a no-op on every later run, when turned off, and in tests)."""
    if not get_settings().notify_in_app or "streamlit.testing.v1" in sys.modules:
        return
    _sender(database_url())

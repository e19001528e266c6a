"""Loudou (漏斗): the Streamlit entry point. Page config, the language switch, navigation."""

import streamlit as st

from pages._shared.common import configure_page, language_switch, run_page, tr

configure_page()
language_switch()
pages = [
    st.Page("pages/dashboard.py", title=tr("nav.dashboard"), icon=":material/filter_alt:", default=True),
    st.Page("pages/lead_entry.py", title=tr("nav.lead_entry"), icon=":material/person_add:"),
]
run_page(st.navigation(pages))

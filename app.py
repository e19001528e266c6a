"""Loudou (漏斗): the Streamlit entry point. Page config, language, sign-in, navigation by role."""

import streamlit as st

from funnel.permissions import allowed
from pages._shared.auth_ui import account_sidebar, signed_in_actor
from pages._shared.common import configure_page, language_switch, run_page, tr

# (file, title key, icon, the permission a role needs to see the page)
PAGES = [
    ("pages/dashboard.py", "nav.dashboard", ":material/filter_alt:", "analytics.read"),
    ("pages/lead_entry.py", "nav.lead_entry", ":material/person_add:", "customer.create"),
]

configure_page()
language_switch()
actor = signed_in_actor()
account_sidebar(actor)
visible = [
    st.Page(path, title=tr(title), icon=icon)
    for path, title, icon, permission in PAGES
    if allowed(actor, permission)
]
run_page(st.navigation(visible))

"""Loudou (漏斗): the Streamlit entry point. Page config, language, sign-in, navigation by role."""

import streamlit as st

from funnel.access.permissions import allowed
from pages._shared.auth_ui import account_sidebar, signed_in_actor
from pages._shared.common import configure_page, language_switch, run_page, tr

# (file, title key, icon, the permission a role needs to see the page)
PAGES = [
    ("pages/dashboard.py", "nav.dashboard", ":material/filter_alt:", "analytics.read"),
    ("pages/leads.py", "nav.leads", ":material/groups:", "customer.read"),
    ("pages/customer.py", "nav.customer", ":material/person:", "customer.read"),
    ("pages/lead_entry.py", "nav.lead_entry", ":material/person_add:", "customer.create"),
    ("pages/users.py", "nav.users", ":material/manage_accounts:", "users.manage"),
    ("pages/audit.py", "nav.audit", ":material/history:", "audit.read"),
]
# Opened from another page (a customer from the leads list), not from the menu.
HIDDEN_PAGES = {"pages/customer.py"}

configure_page()
language_switch()
actor = signed_in_actor()
account_sidebar(actor)
visible = [
    st.Page(path, title=tr(title), icon=icon, visibility="hidden" if path in HIDDEN_PAGES else "visible")
    for path, title, icon, permission in PAGES
    if allowed(actor, permission)
]
run_page(st.navigation(visible))

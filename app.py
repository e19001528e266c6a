"""Loudou (漏斗): the Streamlit entry point, and the one table of its pages.

`streamlit run app.py` imports this module to find `app` (an st.App: the Streamlit server plus the
sign-in cookie's routes beside it), then runs this same file as the app's script on every rerun.
"""

import streamlit as st

# (section, file, title key, icon, the permission a role needs to see the page), in menu order.
PAGES = [
    ("sell", "pages/my_day.py", "nav.my_day", ":material/today:", "customer.read"),
    ("sell", "pages/leads.py", "nav.leads", ":material/groups:", "customer.read"),
    ("sell", "pages/board.py", "nav.board", ":material/view_kanban:", "customer.read"),
    ("sell", "pages/lead_entry.py", "nav.lead_entry", ":material/person_add:", "customer.create"),
    ("sell", "pages/import_leads.py", "nav.import_leads", ":material/upload_file:", "customer.assign"),
    ("sell", "pages/customer.py", "nav.customer", ":material/person:", "customer.read"),
    ("sell", "pages/inbox.py", "nav.inbox", ":material/inbox:", "inbox.read"),
    ("sell", "pages/grading.py", "nav.grading", ":material/grade:", "customer.read"),
    ("sell", "pages/objections.py", "nav.objections", ":material/forum:", "customer.edit"),
    ("sell", "pages/contracts.py", "nav.contracts", ":material/receipt_long:", "order.read"),
    ("analyse", "pages/dashboard.py", "nav.dashboard", ":material/filter_alt:", "analytics.read"),
    ("analyse", "pages/analysis.py", "nav.analysis", ":material/insights:", "analytics.read"),
    ("analyse", "pages/forecast.py", "nav.forecast", ":material/trending_up:", "forecast.read"),
    ("admin", "pages/users.py", "nav.users", ":material/manage_accounts:", "users.manage"),
    ("admin", "pages/audit.py", "nav.audit", ":material/history:", "audit.read"),
    ("admin", "pages/channels.py", "nav.channels", ":material/qr_code_2:", "channel.manage"),
    ("admin", "pages/lists.py", "nav.lists", ":material/list_alt:", "lists.manage"),
    ("admin", "pages/routing.py", "nav.routing", ":material/alt_route:", "routing.manage"),
    ("admin", "pages/trash.py", "nav.trash", ":material/restore_from_trash:", "customer.restore"),
]
# Opened from another page (a customer from the leads list), not from the menu.
HIDDEN_PAGES = {"pages/customer.py"}
DEFAULT_PAGE = "pages/dashboard.py"  # where signing in lands, for a role that may open it

if __name__ == "__main__":  # the app's script, run by Streamlit on every rerun
    from pages._shared.shell import run_app

    run_app(PAGES, hidden=HIDDEN_PAGES, default=DEFAULT_PAGE)
else:  # imported by `streamlit run app.py` (or an ASGI server) to serve the app
    from funnel.integrations.activity_routes import ROUTES as ACTIVITY_ROUTES
    from funnel.integrations.public_routes import ROUTES as PUBLIC_ROUTES
    from funnel.integrations.survey_routes import ROUTES as SURVEY_ROUTES
    from pages._shared.session_routes import ROUTES
    from pages._shared.shell import use_navigation_only

    use_navigation_only()
    # The public lead form (/f/<slug>), the lead API (/api/leads) and the satisfaction survey
    # (/survey/<token>) and the activity API (/api/activities) answer beside the app, without a
    # Streamlit session.
    app = st.App("app.py", routes=[*ROUTES, *PUBLIC_ROUTES, *SURVEY_ROUTES, *ACTIVITY_ROUTES])

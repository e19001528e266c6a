"""The app shell app.py runs: page config, language, who is signed in, the navigation, the error net.

st.navigation is called on every run. Signed out, it holds only the sign-in page; that page also
answers, hidden, at the address of every app page, so that a deep link (`/customer?id=7`) keeps its
address and query while the browser signs in, and the rerun after sign-in opens that very page (a
page's identity is its URL path). Signed in, it holds the pages the user's role may open, by section.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError
from streamlit.navigation.page import StreamlitPage

from funnel.access.permissions import Actor, allowed
from funnel.core.errors import UserError
from funnel.core.runtime import tune_gc_once
from pages._shared.auth_ui import account_sidebar, cookie_bridge, current_actor, sign_in_page
from pages._shared.common import configure_page, language_switch, tr
from pages._shared.forms import DATABASE_ERROR, guarded_read

log = logging.getLogger(__name__)

# One row of app.py's page table: (section, file, title key, icon, the permission a role needs).
PageRow = tuple[str, str, str, str, str]
_ACTOR_KEY = "_shell_actor"  # handed from the shell to the page it runs, for that run only


def use_navigation_only() -> None:
    """Tell Streamlit, before the first session of the server, that app.py's st.navigation lists the pages.

    Otherwise the first sessions of a server process treat pages/ as an old-style pages folder: the
    sidebar lists raw file names and a page's address runs that file without app.py. (Streamlit flips
    this same flag at the first st.navigation call of the process.)
    """
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False


def run_app(table: Sequence[PageRow], *, hidden: Collection[str], default: str) -> None:
    """One run of the app: the shell around the page st.navigation picks."""
    tune_gc_once()  # the first run of the process (funnel/core/runtime.py)
    configure_page()
    with guarded_read():
        actor = current_actor()
    language_switch(actor)
    cookie_bridge()
    if actor is None:
        page = st.navigation(signed_out_pages(table), position="hidden")
    else:
        account_sidebar(actor)
        page = st.navigation(signed_in_sections(table, actor, hidden=hidden, default=default))
        st.session_state[_ACTOR_KEY] = actor
    run_page(page)


def signed_out_pages(table: Sequence[PageRow]) -> list[StreamlitPage]:
    """The sign-in page, and the same page hidden at each app page's address (for deep links)."""
    title, icon = tr("auth.sign_in"), ":material/login:"
    stand_ins = [
        st.Page(sign_in_page, title=title, icon=icon, url_path=st.Page(path).url_path, visibility="hidden")
        for _, path, *_ in table
    ]
    return [st.Page(sign_in_page, title=title, icon=icon, url_path="sign-in", default=True), *stand_ins]


def signed_in_sections(
    table: Sequence[PageRow], actor: Actor, *, hidden: Collection[str], default: str
) -> dict[str, list[StreamlitPage]]:
    """The pages `actor` may open, by translated section title, in the table's order."""
    sections: dict[str, list[StreamlitPage]] = {}
    for section, path, title, icon, permission in table:
        if allowed(actor, permission):
            sections.setdefault(tr(f"nav.section.{section}"), []).append(
                st.Page(
                    path,
                    title=tr(title),
                    icon=icon,
                    visibility="hidden" if path in hidden else "visible",
                    default=path == default,
                )
            )
    return sections


def run_page(page: StreamlitPage) -> None:
    """Run the page; whatever it did not catch becomes a message here, never Streamlit's error box."""
    try:
        page.run()
    except UserError as exc:
        for error in exc.errors:
            st.warning(tr(error.code, **error.params), icon=":material/block:")
    except SQLAlchemyError:
        log.exception("page %s: a database error", page.title)
        st.error(tr(DATABASE_ERROR), icon=":material/error:")
    except Exception:
        log.exception("page %s failed", page.title)
        st.error(tr("error.unexpected"), icon=":material/error:")


def page_setup(permission: str | None = None) -> Actor:
    """Every page calls this first; it returns the signed-in user, or shows the sign-in form and stops.

    A page normally runs inside the shell. Should it run on its own (Streamlit's old-style pages folder
    mode, or a test opening the file directly), it draws the shell's part itself, so no page is
    reachable without signing in. A page that needs a `permission` the user's role lacks says so and
    stops.
    """
    actor: Actor | None = st.session_state.pop(_ACTOR_KEY, None)
    if actor is None:
        configure_page()
        with guarded_read():
            actor = current_actor()
        language_switch(actor)
        cookie_bridge()
        if actor is None:
            sign_in_page()
            st.stop()
            raise AssertionError("unreachable")  # st.stop() raises; this keeps type checkers honest
        account_sidebar(actor)
    if permission and not allowed(actor, permission):
        st.warning(tr("auth.not_allowed_page", role=tr(f"role.{actor.role}")), icon=":material/block:")
        st.stop()
    return actor

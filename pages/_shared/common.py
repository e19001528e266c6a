"""What the pages share: the language, `tr`, the app shell's guard, the cached engine and cached queries.

Helpers live in a sub-folder because Streamlit treats every pages/*.py file as a page until the first
st.navigation call of a server process (and on every AppTest run), underscore or not.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo

import pandas as pd
import streamlit as st
from sqlalchemy import Engine
from streamlit.navigation.page import Page

from funnel.access.permissions import Actor, allowed
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.report import FunnelReport, build_report
from funnel.analytics.rollups import customer_count, entity_funnel, segment_values
from funnel.audit.format import reader_zone
from funnel.core.db import make_engine, session_scope, upgrade
from funnel.core.i18n import DEFAULT_LANGUAGE, LANGUAGES, t
from funnel.core.settings import get_settings

LANG_KEY = "lang"
# Choice widgets whose option labels are translated. A selectbox remembers the label of its choice, which
# no longer matches after a language switch; the switch writes the choices back to be labelled anew.
TRANSLATED_CHOICE_KEYS = ("dash_period", "lead_stage")
_SHELL_KEY = "_page_inside_app"


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    # Bring an empty or older database to the latest migration before the first page reads it.
    engine = make_engine(url)
    upgrade(engine)
    return engine


def database_url() -> str:
    return get_settings().database_url


def get_engine() -> Engine:
    return _engine(database_url())


def default_language() -> str:
    configured = get_settings().language
    return configured if configured in LANGUAGES else DEFAULT_LANGUAGE


def current_language() -> str:
    lang = st.session_state.get(LANG_KEY)
    return lang if lang in LANGUAGES else default_language()


def browser_zone() -> tzinfo:
    """The reader's time zone (their browser's), UTC when Streamlit does not know it."""
    return reader_zone(st.context.timezone)


def local_time(value: datetime) -> datetime:
    """A stored (naive UTC) time in the reader's time zone."""
    return value.replace(tzinfo=UTC).astimezone(browser_zone())


def tr(key: str, **params: object) -> str:
    """The message `key` in the language chosen in the sidebar."""
    return t(key, current_language(), **params)


def language_switch() -> None:
    """The sidebar language switch; app.py draws it (and page_setup when a page runs without app.py)."""
    # Re-assigning the key keeps the choice when the other script draws the switch (another widget id).
    st.session_state[LANG_KEY] = current_language()
    st.sidebar.radio(
        tr("app.language"),
        options=list(LANGUAGES),
        format_func=LANGUAGES.__getitem__,
        horizontal=True,
        key=LANG_KEY,
        on_change=_keep_translated_choices,
    )


def _keep_translated_choices() -> None:
    for key in TRANSLATED_CHOICE_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def configure_page() -> None:
    st.set_page_config(page_title=t("app.title"), page_icon="🔻", layout="wide")


def run_page(page: Page) -> None:
    """Run the page app.py's navigation chose, telling it that it runs inside app.py."""
    st.session_state[_SHELL_KEY] = True
    page.run()


def page_setup(permission: str | None = None) -> Actor:
    """Every page calls this first; it returns the signed-in user, or shows the sign-in form and stops.

    Until the first st.navigation call of a server process (and on every AppTest run) Streamlit treats
    pages/ as an old-style pages folder and may run a page on its own; the page then draws app.py's part
    itself (page config, language switch, sign-in), so no page is reachable without signing in.
    A page that needs a `permission` the user's role lacks says so and stops.
    """
    from pages._shared.auth_ui import account_sidebar, signed_in_actor

    inside_app = st.session_state.pop(_SHELL_KEY, False)
    if not inside_app:
        configure_page()
        language_switch()
    actor = signed_in_actor()
    if not inside_app:
        account_sidebar(actor)
    if permission and not allowed(actor, permission):
        st.warning(tr("auth.not_allowed_page", role=tr(f"role.{actor.role}")), icon=":material/block:")
        st.stop()
    return actor


def clear_data_caches() -> None:
    """After a write: drop cached query results so the next rerun shows it."""
    st.cache_data.clear()


def _filters(since: date | None, until: date | None, channels: tuple[str, ...]) -> CustomerFilter:
    values = {"channel": channels} if channels else {}
    return CustomerFilter(since=since, until=until, values=values)


# Cached queries take the database URL, the reader (funnel/ scopes every query by them) and plain,
# hashable filter values as their cache key.
@st.cache_data(ttl=60, show_spinner=False)
def cached_customer_count(url: str, actor: Actor) -> int:
    with session_scope(_engine(url)) as session:
        return customer_count(session, actor=actor)


@st.cache_data(ttl=60, show_spinner=False)
def cached_segment_values(url: str, field_name: str, actor: Actor) -> list[str]:
    with session_scope(_engine(url)) as session:
        return segment_values(session, field_name, actor=actor)


@st.cache_data(ttl=60, show_spinner=False)
def cached_report(
    url: str,
    since: date | None,
    until: date | None,
    channels: tuple[str, ...],
    by: str | None,
    actor: Actor,
) -> FunnelReport:
    with session_scope(_engine(url)) as session:
        return build_report(session, actor=actor, by=by, filters=_filters(since, until, channels))


@st.cache_data(ttl=60, show_spinner=False)
def cached_entity_funnel(
    url: str, since: date | None, until: date | None, channels: tuple[str, ...], actor: Actor
) -> pd.DataFrame:
    with session_scope(_engine(url)) as session:
        return entity_funnel(session, actor=actor, filters=_filters(since, until, channels))

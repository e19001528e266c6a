"""What the pages share: the language, `tr`, translated choices, the cached engine and cached queries.

Helpers live in a sub-folder because Streamlit treats every pages/*.py file as a page until the first
st.navigation call of a server process (and on every AppTest run), underscore or not.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo
from typing import Any, TypeVar, cast

import pandas as pd
import streamlit as st
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from funnel.access.permissions import Actor
from funnel.accounts.users import save_language, saved_language
from funnel.analytics.dashboard import DashboardFigures, dashboard_figures
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.report import FunnelReport, build_report
from funnel.analytics.rollups import (
    customer_count,
    drill_customers,
    entity_funnel,
    segment_values,
)
from funnel.audit.format import reader_zone
from funnel.core.db import DatabaseUnavailable, make_engine, session_scope, upgrade
from funnel.core.i18n import DEFAULT_LANGUAGE, LANGUAGES, t
from funnel.core.settings import get_settings
from funnel.customers.lists import labels
from funnel.demo.generate import demo_logins
from funnel.integrations.handlers import install_handlers

LANG_KEY = "lang"
_LANG_USER_KEY = "_lang_user"  # who the switch saves a new choice for
log = logging.getLogger(__name__)
_TRANSLATED_CHOICES_KEY = "_translated_choice_keys"
F = TypeVar("F", bound=Callable[..., Any])

# Cached query results by the area of data they read; a write clears only the areas it changed.
CUSTOMERS, USERS = "customers", "users"
_CACHED_BY_AREA: dict[str, list[Any]] = {CUSTOMERS: [], USERS: []}


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    # Bring an empty or older database to the latest migration before the first page reads it.
    engine = make_engine(url)
    upgrade(engine)
    return engine


def database_url() -> str:
    return get_settings().database_url


def get_engine() -> Engine:
    """The app's engine; a database the app cannot use (missing, too new, unreachable) gets one clear
    page instead of a traceback, and every rerun tries again."""
    install_handlers()
    try:
        return _engine(database_url())
    except DatabaseUnavailable as exc:
        logging.getLogger(__name__).error("the database cannot be used: %s", exc)
        st.title(t("app.title", current_language()))
        st.error(tr(exc.key, **exc.params), icon=":material/database:")
        st.stop()
        raise AssertionError("unreachable") from exc  # st.stop() raises


def default_language() -> str:
    configured = get_settings().language
    return configured if configured in LANGUAGES else DEFAULT_LANGUAGE


def current_language() -> str:
    """The session's choice; before any, the browser's language (Accept-Language), else the team's."""
    lang = st.session_state.get(LANG_KEY)
    if lang in LANGUAGES:
        return str(lang)
    return browser_language() or default_language()


def browser_language() -> str | None:
    """The first of the browser's languages the UI speaks ("zh-CN,zh;q=0.9,en;q=0.8" -> "zh")."""
    try:
        header = st.context.headers.get("Accept-Language") or ""
    except Exception:  # no request behind this run (a bare script run, some test harnesses)
        return None
    for part in header.split(","):
        code = part.split(";")[0].strip().lower().split("-")[0]
        if code in LANGUAGES:
            return code
    return None


def browser_zone() -> tzinfo:
    """The reader's time zone (their browser's), UTC when Streamlit does not know it."""
    return reader_zone(st.context.timezone)


def local_time(value: datetime) -> datetime:
    """A stored (naive UTC) time in the reader's time zone."""
    return value.replace(tzinfo=UTC).astimezone(browser_zone())


# What Streamlit's markdown would read as a link, an image, HTML, formatting or a formula.
_MARKDOWN = re.compile(r"([\\`*_\[\]()!<>~$|])")


class Markdown(str):
    """Text the code wrote as markdown on purpose (e.g. `code` spans), passed to `tr` unescaped."""


def md(value: object) -> str:
    """User data as literal text inside markdown: a lead named "[Re-login](https://...)" stays text.

    Every element that renders markdown (title, caption, markdown, alerts, labels) shows stored text
    through this, so one user's input never becomes a link, an image or markup for another.
    """
    if isinstance(value, Markdown):
        return str(value)
    return _MARKDOWN.sub(r"\\\1", str(value))


def tr(key: str, **params: object) -> str:
    """The message `key` in the language chosen in the sidebar, its parameters shown as literal text."""
    # Text is escaped; numbers and dates stay as they are, for format specs such as {rate:.0%}.
    shown = {name: md(value) if isinstance(value, str) else value for name, value in params.items()}
    return t(key, current_language(), **shown)


def language_switch(actor: Actor | None = None) -> None:
    """The sidebar language switch, drawn by the app shell on every run.

    A signed-in user's last choice is stored with their account, so a refresh (a new Streamlit session)
    or another device opens in that language; before signing in the browser's language is used.
    """
    if LANG_KEY not in st.session_state and actor is not None and actor.user_id is not None:
        try:
            with session_scope(get_engine()) as session:
                saved = saved_language(session, actor.user_id)
        except SQLAlchemyError:  # the page says the database failed; the language falls back meanwhile
            log.exception("the saved language could not be read")
            saved = None
        if saved in LANGUAGES:
            st.session_state[LANG_KEY] = saved
    st.session_state[_LANG_USER_KEY] = actor
    # Re-assigning the key keeps the choice when the other script draws the switch (another widget id).
    st.session_state[LANG_KEY] = current_language()
    st.sidebar.radio(
        tr("app.language"),
        options=list(LANGUAGES),
        format_func=LANGUAGES.__getitem__,
        horizontal=True,
        key=LANG_KEY,
        on_change=_language_changed,
    )


def _language_changed() -> None:
    _relabel_translated_choices()
    actor = st.session_state.get(_LANG_USER_KEY)
    if actor is None:
        return
    try:
        with session_scope(get_engine()) as session:
            save_language(session, actor=actor, lang=st.session_state[LANG_KEY])
    except SQLAlchemyError:  # the switch still works for this session; it is just not remembered
        log.exception("the language choice could not be saved")


def keep_translated_choices(*keys: str) -> None:
    """Call before drawing choice widgets whose option labels are translated (selectbox, radio).

    A choice widget sends back the label of its choice, which matches no option after a language
    switch. The switch (its on_change) hands each registered widget its choice itself instead, so that
    it is labelled anew in the other language.
    """
    registered: set[str] = st.session_state.setdefault(_TRANSLATED_CHOICES_KEY, set())
    registered.update(keys)


def _relabel_translated_choices() -> None:
    for key in st.session_state.get(_TRANSLATED_CHOICES_KEY, set()):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def configure_page() -> None:
    st.set_page_config(page_title=t("app.title"), page_icon="🔻", layout="wide")


def cached(area: str) -> Callable[[F], F]:
    """st.cache_data for a query reading `area`'s data (CUSTOMERS or USERS), cleared by clear_area."""

    def register(func: F) -> F:
        cached_func = st.cache_data(ttl=60, show_spinner=False)(func)
        _CACHED_BY_AREA[area].append(cached_func)
        return cast(F, cached_func)

    return register


def cached_shared(area: str, *, ttl: int = 60) -> Callable[[F], F]:
    """st.cache_resource for a large read of `area`'s data that many cached results are computed from:
    one copy shared by every session, not pickled on each hit (so its callers must not change it);
    cleared by clear_area like `cached`."""

    def register(func: F) -> F:
        cached_func = st.cache_resource(ttl=ttl, show_spinner=False)(func)
        _CACHED_BY_AREA[area].append(cached_func)
        return cast(F, cached_func)

    return register


# When this session last wrote (clear_area): part of the dashboard's cache key, see cached_dashboard.
_WRITTEN_KEY = "_written_at"


def clear_area(*areas: str) -> None:
    """After a write: drop the cached results of the areas it changed, so the next run shows it; the
    dashboard's figures are recomputed for this session only (cached_dashboard)."""
    st.session_state[_WRITTEN_KEY] = time.time_ns()
    for area in areas:
        for cached_func in _CACHED_BY_AREA[area]:
            cached_func.clear()


def written_at() -> int | None:
    """When this session last wrote, or None: a cache key for figures that must show the reader's own
    writes at once and may show others' up to the cache's age later."""
    value = st.session_state.get(_WRITTEN_KEY)
    return value if isinstance(value, int) else None


def _filters(since: date | None, until: date | None, channels: tuple[str, ...]) -> CustomerFilter:
    values = {"channel": channels} if channels else {}
    return CustomerFilter(since=since, until=until, values=values)


# Cached queries take the database URL, the reader (funnel/ scopes every query by them) and plain,
# hashable filter values as their cache key.
@cached(CUSTOMERS)
def cached_customer_count(url: str, actor: Actor) -> int:
    with session_scope(_engine(url)) as session:
        return customer_count(session, actor=actor)


@cached(CUSTOMERS)
def cached_segment_values(url: str, field_name: str, actor: Actor) -> list[str]:
    with session_scope(_engine(url)) as session:
        return segment_values(session, field_name, actor=actor)


@cached(CUSTOMERS)
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


@cached(CUSTOMERS)
def cached_entity_funnel(
    url: str, since: date | None, until: date | None, channels: tuple[str, ...], actor: Actor
) -> pd.DataFrame:
    with session_scope(_engine(url)) as session:
        return entity_funnel(session, actor=actor, filters=_filters(since, until, channels))


@cached(USERS)
def cached_demo_logins(url: str) -> list[str]:
    """The sign-in page's demo hint (an argon2 check, so not on every run of the sign-in page)."""
    with session_scope(_engine(url)) as session:
        return demo_logins(session)


@cached(CUSTOMERS)
def cached_list_labels(url: str, list_name: str, lang: str) -> dict[str, str]:
    """A managed list's code -> name in `lang` (the filter bar's option labels)."""
    with session_scope(_engine(url)) as session:
        return labels(session, list_name, lang)


# The same queries for the filter bar's CustomerFilter (pages/_shared/filter_bar.py): the filter object
# itself is part of the cache key, so that one filter drives every query of a page.
@st.cache_data(ttl=60, show_spinner=False)
def _dashboard(
    url: str, filters: CustomerFilter, today: date, now: datetime, actor: Actor, written: int | None
) -> DashboardFigures:
    return dashboard_figures(_engine(url), actor=actor, filters=filters, today=today, now=now)


def cached_dashboard(
    url: str, filters: CustomerFilter, today: date, now: datetime, actor: Actor
) -> DashboardFigures:
    """The dashboard's figures for the filter (KPI tiles for its period and the one before, the report by
    channel, the loss points, lost reasons, qualification, surveys), their queries run at once. `now`
    by the hour (the stuck customers' days), so that the result stays cached within the hour.

    Not cleared by every write, as the lists are: at a million customers one dashboard takes seconds to
    compute, and with twenty reps saving leads no one's stayed cached. The session that wrote gets
    fresh figures at once (its last write is part of the key); everyone else's are at most a minute
    old, as they always were for writes made by another app server or a job."""
    return _dashboard(url, filters, today, now, actor, written_at())


@st.cache_data(ttl=60, show_spinner=False)
def _drill(
    url: str,
    filters: CustomerFilter,
    reached: str | None,
    current: str | None,
    status: str | None,
    actor: Actor,
    event: tuple[str, datetime | None, datetime] | None,
    total: int | None,
    written: int | None,
) -> tuple[pd.DataFrame, int]:
    with session_scope(_engine(url)) as session:
        return drill_customers(
            session,
            actor=actor,
            filters=filters,
            reached=reached,
            current=current,
            status=status,
            event=event,
            total=total,
        )


def cached_drill(
    url: str,
    filters: CustomerFilter,
    reached: str | None,
    current: str | None,
    status: str | None,
    actor: Actor,
    event: tuple[str, datetime | None, datetime] | None = None,
    total: int | None = None,
) -> tuple[pd.DataFrame, int]:
    """The customers behind a funnel figure or a KPI tile (funnel.analytics.rollups.drill_customers);
    `total` when the report counted them already. Cached as the dashboard is (cached_dashboard), so that
    a figure and the customers behind it agree."""
    return _drill(url, filters, reached, current, status, actor, event, total, written_at())

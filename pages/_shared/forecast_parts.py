"""The forecast page's cached reads and the weekly snapshot taken on the first visit of a week."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, timedelta
from typing import Any, cast

import streamlit as st
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from funnel.access.permissions import Actor, allowed
from funnel.analytics.forecast import (
    Backtest,
    Forecast,
    ForecastHistory,
    SnapshotWeek,
    backtest_forecast,
    backtest_starts,
    build_forecast,
    forecast_vs_actual,
    iso_week,
    load_history,
    score_backtest,
    take_snapshot,
    won_by_week,
)
from funnel.analytics.forecast_overrides import CALL_CATEGORIES, set_forecast_call
from funnel.analytics.weekly_summary import build_summary, post_summary, render_html
from funnel.core.clock import team_today
from funnel.core.db import session_scope
from funnel.core.errors import FORM
from pages._shared import forms
from pages._shared.common import CUSTOMERS, _engine, cached, cached_shared, get_engine, tr
from pages._shared.customer_parts import open_customer

log = logging.getLogger(__name__)
_SNAPSHOT_KEY = "_forecast_snapshot_week"


MAX_WEEKS = 26  # the page's slider goes up to this; the forecast is made once for all of them


# Kept longer than the other reads: reloading it takes seconds at 100,000 customers, and a write made
# in the app clears it at once (clear_area); one made outside the app (the CLI, an import job, another
# server) shows within this many seconds.
HISTORY_TTL_SECONDS = 600
# How many open deals the page lists (the largest weighted first).
DEALS_SHOWN = 1000


@cached_shared(CUSTOMERS, ttl=HISTORY_TTL_SECONDS)
def _history(url: str, actor: Actor) -> ForecastHistory:
    """The reader's stage history, loaded once for every as-of day, window and backtest week."""
    with session_scope(_engine(url)) as session:
        return load_history(session, actor=actor)


@cached(CUSTOMERS)
def _forecast_all_weeks(url: str, as_of: date, window_days: int, actor: Actor) -> Forecast:
    history = _history(url, actor)
    with session_scope(_engine(url)) as session:
        return build_forecast(
            session, actor=actor, as_of=as_of, weeks=MAX_WEEKS, window_days=window_days, history=history
        )


def cached_forecast(url: str, as_of: date, weeks: int, window_days: int, actor: Actor) -> Forecast:
    """The forecast with its first `weeks` weeks: moving the weeks slider reads the cache, as only the
    buckets depend on it."""
    result = _forecast_all_weeks(url, as_of, window_days, actor)
    return replace(result, weeks=result.weeks[:weeks])


@cached(CUSTOMERS)
def _backtest_forecast(url: str, start: date, window_days: int, actor: Actor) -> float:
    history = _history(url, actor)
    with session_scope(_engine(url)) as session:
        return backtest_forecast(session, actor=actor, start=start, window_days=window_days, history=history)


MAX_BACKTEST_WEEKS = 26  # the page's slider goes up to this; what was won is read once for all of them


@cached(CUSTOMERS)
def _won_by_week(url: str, today: date, actor: Actor) -> dict[date, float]:
    with session_scope(_engine(url)) as session:
        return won_by_week(session, actor=actor, starts=backtest_starts(MAX_BACKTEST_WEEKS, today))


def cached_backtest(url: str, today: date, weeks: int, window_days: int, actor: Actor) -> Backtest:
    """backtest() from cached weeks: more weeks on the slider computes only the weeks it adds."""
    starts = backtest_starts(weeks, today)
    forecast = {start: _backtest_forecast(url, start, window_days, actor) for start in starts}
    return score_backtest(starts, forecast, _won_by_week(url, today, actor))


@cached(CUSTOMERS)
def cached_snapshots(url: str, today: date, actor: Actor) -> list[SnapshotWeek]:
    with session_scope(_engine(url)) as session:
        return forecast_vs_actual(session, actor=actor, today=today)


def snapshot_this_week(actor: Actor) -> None:
    """Store the week's forecast the first time anyone opens the page in a new week (once per session)."""
    week = iso_week(team_today())
    if st.session_state.get(_SNAPSHOT_KEY) == week:
        return
    try:
        with session_scope(get_engine()) as session:
            result = take_snapshot(session, actor=actor)
    except IntegrityError:
        pass  # another visitor stored this week's snapshot a moment earlier: it exists, which is the point
    except SQLAlchemyError:
        log.exception("the weekly forecast snapshot could not be stored")
        return  # tried again on the next visit; the page itself still shows the live forecast
    else:
        if result.created:
            cast(Any, cached_snapshots).clear()
    st.session_state[_SNAPSHOT_KEY] = week


def call_panel(actor: Actor, deal: Any, lang: str) -> None:
    """The deal picked in the forecast's table: open its customer, or (for whoever may edit it) make a
    forecast call — put it in another category, or take it out of this forecast with a note."""
    customer_id = int(deal["customer_id"])
    st.markdown(f"**{deal['customer_no']} · {deal['name']}**")
    if st.button(tr("forecast.call.open"), key="forecast_open_customer", icon=":material/open_in_new:"):
        open_customer(customer_id)
    if not allowed(actor, "customer.edit"):
        return
    current = deal.get("call")
    current = current if isinstance(current, str) else ""
    options = ["", *CALL_CATEGORIES]
    with st.form(f"forecast_call_{customer_id}"):
        form_slot = st.empty()
        category = st.selectbox(
            tr("forecast.call.category"),
            options,
            index=options.index(current) if current in options else 0,
            format_func=lambda key: tr(f"forecast.category.{key}") if key else tr("forecast.call.by_stage"),
            help=tr("forecast.call.help"),
        )
        category_slot = st.empty()
        note = st.text_input(tr("forecast.call.note"), value=deal.get("call_note") or "", max_chars=500)
        note_slot = st.empty()
        submitted = st.form_submit_button(tr("forecast.call.save"))
    if submitted:
        slots: forms.Slots = {FORM: form_slot, "category": category_slot, "note": note_slot}
        forms.save(
            slots,
            lambda session: set_forecast_call(
                session, actor=actor, customer_id=customer_id, category=category or None, note=note
            ),
            notice=tr("forecast.call.saved", customer_no=deal["customer_no"]),
        )


_SUMMARY_KEY = "_forecast_summary_html"


def summary_section(actor: Actor, lang: str) -> None:
    """The weekly summary: pick a week, prepare the printable page, download it, tell leadership."""
    st.subheader(tr("summary.section"))
    st.caption(tr("summary.caption"))
    today = team_today()
    mondays = [today - timedelta(days=today.weekday() + 7 * back) for back in range(9)]
    cols = st.columns([1, 1, 1])
    monday = cols[0].selectbox(
        tr("summary.week"), mondays, format_func=lambda day: iso_week(day), key="forecast_summary_week"
    )
    if cols[1].button(tr("summary.prepare"), key="forecast_summary_prepare", icon=":material/summarize:"):
        with st.spinner(tr("summary.prepare")), session_scope(get_engine()) as session:
            summary = build_summary(session, actor=actor, day=monday)
            st.session_state[_SUMMARY_KEY] = (summary.week, lang, render_html(summary, lang))
    prepared = st.session_state.get(_SUMMARY_KEY)
    if prepared and prepared[0] == iso_week(monday) and prepared[1] == lang:
        week, _, page = prepared
        cols[1].download_button(
            tr("summary.download"),
            data=page.encode("utf-8"),
            file_name=f"loudou-summary-{week}.html",
            mime="text/html",
            key="forecast_summary_download",
            icon=":material/download:",
        )
        if cols[2].button(tr("summary.post"), key="forecast_summary_post", icon=":material/campaign:"):

            def write(session: Any) -> int:
                return post_summary(
                    session, actor=actor, summary=build_summary(session, actor=actor, day=monday)
                )

            forms.save(
                {FORM: cols[2].empty()},
                write,
                notice=lambda count: tr("summary.posted", count=count),
                areas=(),
            )

"""The forecast page's cached reads and the weekly snapshot taken on the first visit of a week."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any, cast

import streamlit as st
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from funnel.access.permissions import Actor
from funnel.analytics.forecast import (
    Backtest,
    Forecast,
    SnapshotWeek,
    backtest,
    build_forecast,
    forecast_vs_actual,
    iso_week,
    take_snapshot,
)
from funnel.core.clock import team_today
from funnel.core.db import session_scope
from pages._shared.common import CUSTOMERS, _engine, cached, get_engine

log = logging.getLogger(__name__)
_SNAPSHOT_KEY = "_forecast_snapshot_week"


@cached(CUSTOMERS)
def cached_forecast(url: str, as_of: date, weeks: int, window_days: int, actor: Actor) -> Forecast:
    with session_scope(_engine(url)) as session:
        return build_forecast(session, actor=actor, as_of=as_of, weeks=weeks, window_days=window_days)


@cached(CUSTOMERS)
def cached_backtest(url: str, today: date, weeks: int, window_days: int, actor: Actor) -> Backtest:
    with session_scope(_engine(url)) as session:
        return backtest(session, actor=actor, weeks=weeks, today=today, window_days=window_days)


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

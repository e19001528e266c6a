"""Conversion analysis: conversion by segment, trends by cohort, velocity, and through to cash."""

from datetime import date, timedelta

import streamlit as st

from funnel.analytics.filters import CustomerFilter
from funnel.analytics.periods import CUSTOM_PERIOD, PERIODS, period_bounds
from funnel.core.clock import team_today
from funnel.core.i18n import t
from pages._shared import analysis_parts as parts
from pages._shared.common import (
    cached_segment_values,
    current_language,
    database_url,
    keep_translated_choices,
    tr,
)
from pages._shared.forms import guarded_read
from pages._shared.shell import page_setup

actor = page_setup("analytics.read")
lang = current_language()
st.title(tr("analysis.title"))
st.caption(tr("analysis.intro"))

# The period (by creation date) and channel; the shared filter bar replaces this when it lands.
keep_translated_choices("analysis_period_preset")
filter_cols = st.columns([1, 1, 2])
preset = filter_cols[0].selectbox(
    tr("dash.period"),
    options=[*PERIODS, CUSTOM_PERIOD],
    format_func=lambda key: t(f"period.{key}", lang),
    key="analysis_period_preset",
)
today = team_today()
custom: tuple[date, ...] = ()
if preset == CUSTOM_PERIOD:
    picked = filter_cols[1].date_input(
        tr("dash.date_range"), value=(today - timedelta(days=182), today), key="analysis_range"
    )
    custom = tuple(picked) if isinstance(picked, tuple | list) else ()
with guarded_read():
    known_channels = cached_segment_values(database_url(), "channel", actor)
channels = filter_cols[2].multiselect(
    tr("dash.channels"), options=known_channels, placeholder=tr("dash.channels_all"), key="analysis_channels"
)
since, until = period_bounds(preset, today=today, custom=custom)
filters = CustomerFilter(since=since, until=until, values={"channel": tuple(channels)} if channels else {})
st.caption(tr("analysis.period_basis"))

view = parts.view_picker()
if view == "segments":
    parts.segments_view(actor, filters)
elif view == "trends":
    parts.trends_view(actor, filters)
elif view == "velocity":
    parts.velocity_view(actor, filters)
else:
    parts.cash_view(actor, filters)

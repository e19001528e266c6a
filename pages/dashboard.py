"""Dashboard: where leads are lost, overall and by channel."""

from datetime import date, timedelta

import streamlit as st

from funnel.analytics.periods import CUSTOM_PERIOD, PERIODS, period_bounds
from funnel.core.clock import team_today
from funnel.core.i18n import t
from pages._shared import dashboard_parts as parts
from pages._shared.common import (
    cached_customer_count,
    cached_entity_funnel,
    cached_report,
    cached_segment_values,
    current_language,
    database_url,
    keep_translated_choices,
    tr,
)
from pages._shared.forms import guarded_read
from pages._shared.shell import page_setup

actor = page_setup("analytics.read")
lang = current_language()  # bound into format functions, which also run outside the script
st.title(tr("dash.title"))
url = database_url()
with guarded_read():
    empty = cached_customer_count(url, actor) == 0
if empty:
    parts.welcome(actor)
    st.stop()

filter_cols = st.columns([1, 1, 2])
keep_translated_choices("dash_period")
preset = filter_cols[0].selectbox(
    tr("dash.period"),
    options=[*PERIODS, CUSTOM_PERIOD],
    format_func=lambda key: t(f"period.{key}", lang),
    key="dash_period",
)
today = team_today()  # periods are the sales team's days (CRM_TIMEZONE)
custom: tuple[date, ...] = ()
if preset == CUSTOM_PERIOD:
    default_range = (today - timedelta(days=182), today)
    picked = filter_cols[1].date_input(tr("dash.date_range"), value=default_range, key="dash_range")
    custom = tuple(picked) if isinstance(picked, tuple | list) else ()
with guarded_read():
    known_channels = cached_segment_values(url, "channel", actor)
channels = filter_cols[2].multiselect(
    tr("dash.channels"),
    options=known_channels,
    placeholder=tr("dash.channels_all"),
    key="dash_channels",
)
since, until = period_bounds(preset, today=today, custom=custom)
with guarded_read():
    report = cached_report(url, since, until, tuple(channels), "channel", actor)
    entities = cached_entity_funnel(url, since, until, tuple(channels), actor)

if report.overall.total == 0:
    st.info(tr("dash.no_match"))
    st.stop()

parts.metrics(report.overall)
loss = report.overall.loss_point(report.details)
parts.loss_callout(loss)
parts.funnel_section(report, loss)
parts.channel_section(report.segments)
parts.entity_section(entities)

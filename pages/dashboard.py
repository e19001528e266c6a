"""Dashboard: KPI tiles, the funnel and where leads are lost, by channel, and the customers behind each
figure, all for the customers the filter bar selects (one CustomerFilter drives every query)."""

import streamlit as st

from funnel.analytics.rollups import entity_steps
from funnel.core.clock import team_today
from pages._shared import dashboard_parts as parts
from pages._shared.closing_parts import survey_section
from pages._shared.common import (
    cached_customer_count,
    cached_filtered_report,
    cached_kpis,
    cached_lost_by_reason,
    cached_qualification,
    cached_survey_summary,
    current_language,
    database_url,
    tr,
)
from pages._shared.filter_bar import filter_bar
from pages._shared.forms import guarded_read
from pages._shared.shell import page_setup

actor = page_setup("analytics.read")
st.title(tr("dash.title"))
url = database_url()
with guarded_read():
    empty = cached_customer_count(url, actor) == 0
if empty:
    parts.welcome(actor)
    st.stop()

filters = filter_bar(actor, key_prefix="dash")  # the one filter object every query below takes
with guarded_read():
    tiles = cached_kpis(url, filters, team_today(), actor)
    report = cached_filtered_report(url, filters, "channel", actor)
parts.kpi_section(tiles, bounded=filters.since is not None)

if report.overall.total == 0:
    st.info(tr("dash.no_match"))
    st.stop()

st.caption(tr("dash.cohort_caption"))
parts.metrics(report.overall)
loss = report.overall.loss_point(report.details)
parts.loss_callout(loss)
parts.funnel_section(report, loss)
parts.loss_section(report.overall, url, filters, actor)
with guarded_read():
    lost_reasons = cached_lost_by_reason(url, filters, actor)
parts.lost_reasons_section(lost_reasons)
with guarded_read():
    bands, competitors = cached_qualification(url, filters, actor)
parts.qualification_section(bands, competitors)
parts.drill_section(report, url, filters, actor)
parts.channel_section(report.segments)
parts.entity_section(entity_steps(report.entities))  # the report's own join, not a second query
with guarded_read():
    surveys = cached_survey_summary(url, filters, actor)
survey_section(surveys, current_language())

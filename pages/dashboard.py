"""Dashboard: KPI tiles, the funnel and where leads are lost, by channel, and the customers behind each
figure, all for the customers the filter bar selects (one CustomerFilter drives every query)."""

import streamlit as st

from funnel.analytics.rollups import entity_steps
from funnel.core.clock import team_today, utcnow
from pages._shared import dashboard_parts as parts
from pages._shared.closing_parts import survey_section
from pages._shared.common import cached_customer_count, cached_dashboard, current_language, database_url, tr
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
    now = utcnow().replace(minute=0, second=0, microsecond=0)  # by the hour, so the result stays cached
    figures = cached_dashboard(url, filters, team_today(), now, actor)  # every query below at once
report = figures.report
parts.kpi_section(figures.tiles, bounded=filters.since is not None)

if report.overall.total == 0:
    st.info(tr("dash.no_match"))
    st.stop()

st.caption(tr("dash.cohort_caption"))
parts.metrics(report.overall)
loss = report.overall.loss_point(report.details)
parts.loss_callout(loss)
parts.funnel_section(report, loss)
parts.loss_section(report.overall, figures.loss_points)
parts.lost_reasons_section(figures.lost_reasons)
parts.qualification_section(figures.budget_bands, figures.competitors)
parts.drill_section(report, url, filters, actor)
parts.channel_section(report.segments)
parts.entity_section(entity_steps(report.entities))  # the report's own join, not a second query
survey_section(figures.surveys, current_language())

"""Dashboard: where leads are lost, overall and by channel, for the customers the filter bar selects."""

import streamlit as st

from pages._shared import dashboard_parts as parts
from pages._shared.common import (
    cached_customer_count,
    cached_filtered_entity_funnel,
    cached_filtered_report,
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
    report = cached_filtered_report(url, filters, "channel", actor)
    entities = cached_filtered_entity_funnel(url, filters, actor)

if report.overall.total == 0:
    st.info(tr("dash.no_match"))
    st.stop()

parts.metrics(report.overall)
loss = report.overall.loss_point(report.details)
parts.loss_callout(loss)
parts.funnel_section(report, loss)
parts.channel_section(report.segments)
parts.entity_section(entities)

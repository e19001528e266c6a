"""Conversion analysis: conversion by segment, trends by cohort, velocity, and through to cash."""

import streamlit as st

from pages._shared import analysis_parts as parts
from pages._shared.common import tr
from pages._shared.filter_bar import filter_bar
from pages._shared.shell import page_setup

actor = page_setup("analytics.read")
st.title(tr("analysis.title"))
st.caption(tr("analysis.intro"))
filters = filter_bar(actor, key_prefix="analysis")  # the one filter object every view below takes

view = parts.view_picker()
if view == "segments":
    parts.segments_view(actor, filters)
elif view == "trends":
    parts.trends_view(actor, filters)
elif view == "velocity":
    parts.velocity_view(actor, filters)
else:
    parts.cash_view(actor, filters)

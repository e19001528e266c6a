"""The conversion analysis page's cached reads and its four views (a helper, not a page)."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from funnel.access.permissions import Actor, allowed
from funnel.analytics.cash import SHOW, CashFunnel, cash_funnel, merged_count, merged_csv, merged_table
from funnel.analytics.charts import cash_chart, cohort_chart, segment_heatmap, velocity_chart
from funnel.analytics.cohorts import PERIODS, cohorts
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.presentation import short_money
from funnel.analytics.segments import (
    DEFAULT_MIN_SAMPLE,
    DIMENSIONS,
    DRILL_LIMIT,
    DRILL_OUTCOMES,
    SegmentConversion,
    conversion_by_segment,
    drill_customers,
    filtered_customers,
    heatmap_frame,
)
from funnel.analytics.velocity import LEAD_TO_WON, Velocity, stalled_customers, velocity
from funnel.core.db import session_scope
from funnel.core.export import csv_bytes
from funnel.pipeline.stages import get_pipeline
from pages._shared.common import (
    CUSTOMERS,
    _engine,
    cached,
    cached_list_labels,
    current_language,
    database_url,
    tr,
)
from pages._shared.customer_parts import open_customer
from pages._shared.filter_bar import LISTED
from pages._shared.forms import guarded_read

VIEWS = ("segments", "trends", "velocity", "cash")
MERGED_SHOWN = 1000  # rows of the merged table drawn on the page; the download has them all

# ---- the filter as a cache key: CustomerFilter holds a dict, so it travels as a tuple of its fields.

FilterKey = tuple[tuple[str, Any], ...]


def filter_key(filters: CustomerFilter) -> FilterKey:
    """A hashable copy of `filters` (every field but the scope, which funnel/ sets from the reader)."""
    items: list[tuple[str, Any]] = []
    for f in dataclasses.fields(filters):
        if f.name == "scope":
            continue
        value = getattr(filters, f.name)
        if isinstance(value, dict):
            value = tuple(sorted((name, tuple(wanted)) for name, wanted in value.items()))
        items.append((f.name, value))
    return tuple(items)


def from_key(key: FilterKey) -> CustomerFilter:
    fields: dict[str, Any] = {name: dict(value) if name == "values" else value for name, value in key}
    return CustomerFilter(**fields)


# ---- cached reads (cleared with the customers' area after any write)


@cached(CUSTOMERS)
def cached_segments(
    url: str, key: FilterKey, dimension: str, min_sample: int, actor: Actor
) -> SegmentConversion:
    with session_scope(_engine(url)) as session:
        return conversion_by_segment(
            session, actor=actor, dimension=dimension, filters=from_key(key), min_sample=min_sample
        )


@cached(CUSTOMERS)
def cached_drill(
    url: str, key: FilterKey, dimension: str, value: str | None, stage: str, outcome: str, actor: Actor
) -> pd.DataFrame:
    with session_scope(_engine(url)) as session:
        return drill_customers(
            session,
            actor=actor,
            dimension=dimension,
            value=value,
            stage=stage,
            outcome=outcome,
            filters=from_key(key),
        )


@cached(CUSTOMERS)
def cached_cohorts(url: str, key: FilterKey, period: str, actor: Actor) -> pd.DataFrame:
    with session_scope(_engine(url)) as session:
        return cohorts(session, actor=actor, period=period, filters=from_key(key))


@cached(CUSTOMERS)
def cached_cohort_customers(url: str, key: FilterKey, start: date, end: date, actor: Actor) -> pd.DataFrame:
    with session_scope(_engine(url)) as session:
        return filtered_customers(session, actor=actor, filters=from_key(key), created_between=(start, end))


@cached(CUSTOMERS)
def cached_velocity(url: str, key: FilterKey, dimension: str | None, actor: Actor) -> Velocity:
    with session_scope(_engine(url)) as session:
        return velocity(session, actor=actor, dimension=dimension, filters=from_key(key))


@cached(CUSTOMERS)
def cached_stalled(url: str, key: FilterKey, stage: str, actor: Actor) -> pd.DataFrame:
    with session_scope(_engine(url)) as session:
        return stalled_customers(session, actor=actor, stage=stage, filters=from_key(key))


@cached(CUSTOMERS)
def cached_cash(url: str, key: FilterKey, actor: Actor) -> CashFunnel:
    with session_scope(_engine(url)) as session:
        return cash_funnel(session, actor=actor, filters=from_key(key))


@cached(CUSTOMERS)
def cached_merged(
    url: str, key: FilterKey, show: str, limit: int | None, actor: Actor
) -> tuple[pd.DataFrame, int]:
    with session_scope(_engine(url)) as session:
        frame = merged_table(session, actor=actor, filters=from_key(key), show=show, limit=limit)
        total = merged_count(session, actor=actor, filters=from_key(key), show=show)
        return frame, total


def _full_merged_csv(url: str, key: FilterKey, show: str, actor: Actor) -> bytes:
    """The whole filtered merged table as CSV; built only when the download is clicked."""
    with session_scope(_engine(url)) as session:
        return merged_csv(merged_table(session, actor=actor, filters=from_key(key), show=show))


# ---- shared bits


def _percent(value: object) -> str:
    return "—" if value is None or pd.isna(value) else f"{float(value):.0%}"  # type: ignore[arg-type]


def _value_names(dimension: str | None) -> dict[str, str]:
    """The reader's-language names of a dimension's stored codes, for those kept in a managed list."""
    if dimension not in LISTED:
        return {}
    with guarded_read():
        return cached_list_labels(database_url(), LISTED[dimension], current_language())


def _download(table: pd.DataFrame, file_name: str, *, key: str) -> None:
    """The table as shown, as a spreadsheet-safe CSV."""
    st.download_button(
        tr("analysis.download_csv"),
        data=csv_bytes(table),
        file_name=file_name,
        mime="text/csv",
        icon=":material/download:",
        key=key,
        on_click="ignore",
    )


def view_picker() -> str:
    """Which view the page shows (also ?view= in the address, so a view can be shared)."""
    if "analysis_view" not in st.session_state:
        wanted = st.query_params.get("view")
        st.session_state["analysis_view"] = wanted if wanted in VIEWS else VIEWS[0]
    view: str = st.radio(
        tr("analysis.view"),
        VIEWS,
        format_func=lambda key: tr(f"analysis.view.{key}"),
        horizontal=True,
        key="analysis_view",
        label_visibility="collapsed",
    )
    st.query_params["view"] = view
    return view


def customer_list(frame: pd.DataFrame, *, key: str, limit: int = DRILL_LIMIT) -> None:
    """A drill-down list; a click on a row opens that customer's page."""
    if frame.empty:
        st.info(tr("analysis.drill.none"))
        return
    caption = tr("analysis.drill.count", count=len(frame))
    if len(frame) >= limit:
        caption += " " + tr("analysis.drill.limited", limit=limit)
    st.caption(caption)
    pipeline, lang = get_pipeline(), current_language()
    shown = frame.drop(columns="id").assign(
        stage=[pipeline.name(s, lang) for s in frame["stage"]],
        status=[tr(f"leads.status.{s}") for s in frame["status"]],
    )
    shown.columns = [tr(f"analysis.col.{c}") for c in shown.columns]
    event = st.dataframe(
        shown, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key=key
    )
    if event.selection.rows:
        open_customer(int(frame.iloc[event.selection.rows[0]]["id"]))


# ---- 1. conversion by segment


def segments_view(actor: Actor, filters: CustomerFilter) -> None:
    url, key, pipeline, lang = database_url(), filter_key(filters), get_pipeline(), current_language()
    left, right = st.columns([2, 1])
    if "analysis_dimension" not in st.session_state and st.query_params.get("dim") in DIMENSIONS:
        st.session_state["analysis_dimension"] = st.query_params["dim"]
    dimension = left.selectbox(
        tr("analysis.dimension"),
        DIMENSIONS,
        format_func=lambda d: tr(f"analysis.dim.{d}"),
        key="analysis_dimension",
    )
    min_sample = int(
        right.number_input(
            tr("analysis.min_sample"),
            min_value=1,
            value=DEFAULT_MIN_SAMPLE,
            step=5,
            key="analysis_min_sample",
            help=tr("analysis.min_sample.help"),
        )
    )
    st.query_params["dim"] = dimension
    with guarded_read():
        result = cached_segments(url, key, dimension, min_sample, actor)
    if not result.segments:
        st.info(tr("analysis.no_match"))
        return
    frame = heatmap_frame(result, none_label=tr("table.none"))
    names = _value_names(dimension)
    frame["segment"] = [
        names.get(label, label) if pd.notna(v) else label
        for label, v in zip(frame["segment"], frame["value"], strict=True)
    ]
    frame["stage_name"] = [pipeline.name(s, lang) for s in frame["stage"]]
    order = [pipeline.name(s, lang) for s in result.stages[1:]]
    st.caption(tr("analysis.segments.caption", min_sample=min_sample))
    event = st.altair_chart(
        segment_heatmap(frame, lang, stage_order=order),
        width="stretch",
        on_select="rerun",
        selection_mode="cell",
        key="analysis_heatmap",
    )
    table = frame.assign(
        interval=[
            "—" if pd.isna(lo) else f"{lo:.0%} – {hi:.0%}"
            for lo, hi in zip(frame["low"], frame["high"], strict=True)
        ],
        step_conversion=[_percent(v) for v in frame["step_conversion"]],
        small=[tr("analysis.small") if s else "" for s in frame["small"]],
    )[["segment", "stage_name", "trials", "reached", "step_conversion", "interval", "small"]]
    table.columns = [tr(f"analysis.col.{c}") for c in table.columns]
    rows = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="analysis_segment_table",
    )
    _download(table, "conversion_by_segment.csv", key="analysis_segments_csv")
    picked = _picked_cell(event, rows, frame)
    if picked is None:
        st.caption(tr("analysis.drill.hint"))
        return
    value, stage = picked
    label = tr("table.none") if value is None else names.get(value, value)
    st.subheader(tr("analysis.drill.title", segment=label, stage=pipeline.name(stage, lang)))
    if not allowed(actor, "customer.read"):
        return
    outcome = st.radio(
        tr("analysis.drill.outcome"),
        DRILL_OUTCOMES,
        format_func=lambda o: tr(f"analysis.drill.{o}"),
        horizontal=True,
        key="analysis_drill_outcome",
    )
    with guarded_read():
        customers = cached_drill(url, key, dimension, value, stage, outcome, actor)
    customer_list(customers, key="analysis_drill_list")


def _picked_cell(chart_event: Any, table_event: Any, frame: pd.DataFrame) -> tuple[str | None, str] | None:
    """(segment value, stage) of the heatmap cell clicked, else of the table row selected."""
    rows = table_event.selection.rows if table_event is not None else []
    if rows:
        row = frame.iloc[rows[0]]
        return (None if pd.isna(row["value"]) else str(row["value"])), str(row["stage"])
    # The chart's state reads like a dict (Streamlit's VegaLiteState, or a state set by a test).
    selection = chart_event.get("selection") or {} if chart_event is not None else {}
    picked = selection.get("cell") or []
    if picked:
        wanted = picked[0]
        match = frame[
            (frame["segment"] == wanted.get("segment")) & (frame["stage_name"] == wanted.get("stage_name"))
        ]
        if not match.empty:
            row = match.iloc[0]
            return (None if pd.isna(row["value"]) else str(row["value"])), str(row["stage"])
    return None


# ---- 2. trends (cohorts)


def trends_view(actor: Actor, filters: CustomerFilter) -> None:
    url, key = database_url(), filter_key(filters)
    period = st.radio(
        tr("analysis.period"),
        PERIODS,
        format_func=lambda p: tr(f"analysis.period.{p}"),
        horizontal=True,
        key="analysis_cohort_period",
    )
    with guarded_read():
        table = cached_cohorts(url, key, period, actor)
    if table.empty:
        st.info(tr("analysis.no_match"))
        return
    st.caption(tr("analysis.trends.caption"))
    st.altair_chart(cohort_chart(table, current_language()), width="stretch")
    shown = table.assign(
        conversion_to_won=[_percent(v) for v in table["conversion_to_won"]],
        win_rate=[_percent(v) for v in table["win_rate"]],
        incomplete=[tr("analysis.cohort.incomplete") if i else "" for i in table["incomplete"]],
    )[["cohort", "customers", "open", "won", "lost", "conversion_to_won", "win_rate", "incomplete"]]
    shown.columns = [tr(f"analysis.col.{c}") for c in shown.columns]
    rows = st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="analysis_cohorts",
    )
    _download(shown, "cohorts.csv", key="analysis_cohorts_csv")
    if not rows.selection.rows:
        st.caption(tr("analysis.drill.cohort_hint"))
        return
    row = table.iloc[rows.selection.rows[0]]
    st.subheader(tr("analysis.drill.cohort_title", cohort=row["cohort"]))
    if allowed(actor, "customer.read"):
        with guarded_read():
            customers = cached_cohort_customers(url, key, row["start"], row["end"], actor)
        customer_list(customers, key="analysis_cohort_list")


# ---- 3. velocity


def velocity_view(actor: Actor, filters: CustomerFilter) -> None:
    url, key, pipeline, lang = database_url(), filter_key(filters), get_pipeline(), current_language()
    options: list[str | None] = [None, *DIMENSIONS]
    dimension = st.selectbox(
        tr("analysis.velocity.by"),
        options,
        format_func=lambda d: tr("analysis.dim.none") if d is None else tr(f"analysis.dim.{d}"),
        key="analysis_velocity_by",
    )
    with guarded_read():
        result = cached_velocity(url, key, dimension, actor)
    if result.table.empty:
        st.info(tr("analysis.velocity.empty"))
        return
    st.caption(tr("analysis.velocity.caption"))
    segments = list(dict.fromkeys(result.table["segment"]))
    names = _value_names(dimension)
    segment = segments[0]
    if dimension is not None:
        segment = st.selectbox(
            tr("analysis.segment"),
            segments,
            format_func=lambda v: tr("table.none") if v is None else names.get(str(v), str(v)),
            key="analysis_velocity_segment",
        )
    stall = result.stall_stage(segment)
    rows = result.table[result.table["segment"].map(lambda v: v == segment)]
    stage_rows = rows[rows["stage"] != LEAD_TO_WON].assign(
        stage_name=lambda f: [pipeline.name(s, lang) for s in f["stage"]]
    )
    to_won = rows[rows["stage"] == LEAD_TO_WON]
    tiles = st.columns(3)
    if not to_won.empty:
        tiles[0].metric(tr("analysis.velocity.to_won_median"), f"{to_won['median_days'].iloc[0]:.1f}")
        tiles[1].metric(tr("analysis.velocity.to_won_p80"), f"{to_won['p80_days'].iloc[0]:.1f}")
    if stall is not None:
        tiles[2].metric(tr("analysis.velocity.stall"), pipeline.name(stall, lang))
        median = float(stage_rows.loc[stage_rows["stage"] == stall, "median_days"].iloc[0])
        st.warning(
            tr("analysis.velocity.stall_note", stage=pipeline.name(stall, lang), days=f"{median:.1f}"),
            icon=":material/hourglass_bottom:",
        )
    if not stage_rows.empty:
        st.altair_chart(velocity_chart(stage_rows, lang, stall=stall), width="stretch")
    table = result.table.assign(
        segment=[tr("table.none") if v is None else names.get(v, v) for v in result.table["segment"]],
        stage=[
            tr("analysis.lead_to_won") if s == LEAD_TO_WON else pipeline.name(s, lang)
            for s in result.table["stage"]
        ],
        median_days=result.table["median_days"].round(1),
        p80_days=result.table["p80_days"].round(1),
    )
    if dimension is None:
        table = table.drop(columns="segment")
    table.columns = [tr(f"analysis.col.{c}") for c in table.columns]
    st.dataframe(table, hide_index=True, width="stretch")
    if stall is None or not allowed(actor, "customer.read"):
        return
    # Where they stall: the open customers waiting there now, longest first (whatever the split).
    st.subheader(tr("analysis.velocity.stalled_title", stage=pipeline.name(stall, lang)))
    with guarded_read():
        stalled = cached_stalled(url, key, stall, actor)
    customer_list(stalled, key="analysis_stalled_list")


# ---- 4. through to cash


def cash_view(actor: Actor, filters: CustomerFilter) -> None:
    url, key, lang = database_url(), filter_key(filters), current_language()
    with guarded_read():
        result = cached_cash(url, key, actor)
    if result.customers == 0:
        st.info(tr("analysis.no_match"))
        return
    tiles = st.columns(4)
    for column, (name, amount) in zip(
        tiles,
        [
            ("pipeline", result.pipeline),
            ("contracted", result.contracted),
            ("collected", result.collected),
            ("outstanding", result.outstanding),
        ],
        strict=True,
    ):
        column.metric(
            tr(f"analysis.cash.{name}"), short_money(amount, lang), help=tr(f"analysis.cash.{name}.help")
        )
    steps = result.steps()
    steps["step_name"] = [tr(f"analysis.cash.step.{s}") for s in steps["step"]]
    steps["amount_label"] = ["—" if pd.isna(a) else f"¥{a:,.0f}" for a in steps["amount"]]
    steps["label"] = [
        tr("analysis.cash.label", count=f"{n:,}", share=_percent(s))
        for n, s in zip(steps["customers"], steps["share"], strict=True)
    ]
    st.altair_chart(cash_chart(steps, lang), width="stretch")
    shown = steps.assign(
        share=[_percent(v) for v in steps["share"]],
        step_conversion=[_percent(v) for v in steps["step_conversion"]],
    )[["step_name", "customers", "share", "step_conversion", "amount_label"]]
    shown.columns = [tr(f"analysis.col.{c}") for c in shown.columns]
    st.dataframe(shown, hide_index=True, width="stretch")

    st.subheader(tr("analysis.merged.title"))
    st.caption(tr("analysis.merged.caption"))
    if not allowed(actor, "customer.read"):
        return
    show = st.selectbox(
        tr("analysis.merged.show"),
        SHOW,
        format_func=lambda s: tr(f"analysis.merged.show.{s}"),
        key="analysis_merged_show",
    )
    with guarded_read():
        frame, total = cached_merged(url, key, show, MERGED_SHOWN, actor)
    st.download_button(
        tr("analysis.merged.download", count=f"{total:,}"),
        data=lambda: _full_merged_csv(url, key, show, actor),
        file_name="merged.csv",
        mime="text/csv",
        icon=":material/download:",
        key="analysis_merged_csv",
        on_click="ignore",
    )
    if frame.empty:
        st.info(tr("analysis.drill.none"))
        return
    if total > len(frame):
        st.caption(tr("analysis.merged.limited", shown=f"{len(frame):,}", total=f"{total:,}"))
    event = st.dataframe(
        frame.drop(columns="id"),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="analysis_merged",
    )
    if event.selection.rows:
        open_customer(int(frame.iloc[event.selection.rows[0]]["id"]))

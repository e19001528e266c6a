"""Forecast: what will close in the weeks ahead, weighted by how often each stage has been won, and
how far that method can be trusted (its backtest and the weekly snapshots against what was won)."""

from datetime import timedelta

import pandas as pd
import streamlit as st

from funnel.analytics.forecast import CATEGORIES, DEFAULT_WINDOW_DAYS, category_totals, deal_categories
from funnel.analytics.forecast_charts import accuracy_chart, weeks_chart
from funnel.analytics.presentation import short_money
from funnel.core.clock import team_today
from funnel.core.export import spreadsheet_safe
from funnel.core.settings import get_settings
from funnel.pipeline.stages import get_pipeline
from pages._shared import forecast_parts as parts
from pages._shared.common import current_language, database_url, tr
from pages._shared.forms import guarded_read
from pages._shared.shell import page_setup

WINDOWS = (90, 180, 365, 730)

actor = page_setup("forecast.read")
lang, pipeline, settings = current_language(), get_pipeline(), get_settings()
url, today = database_url(), team_today()
st.title(tr("forecast.title"))
st.caption(tr("forecast.intro"))
parts.snapshot_this_week(actor)

controls = st.columns([1, 1, 1])
as_of = controls[0].date_input(
    tr("forecast.as_of"), value=today, max_value=today, key="forecast_as_of", help=tr("forecast.as_of.help")
)
weeks = controls[1].slider(tr("forecast.weeks_ahead"), 4, parts.MAX_WEEKS, 12, key="forecast_weeks")
window_days = controls[2].selectbox(
    tr("forecast.window"),
    WINDOWS,
    index=WINDOWS.index(DEFAULT_WINDOW_DAYS),
    format_func=lambda days: tr("forecast.window_days", days=days),
    key="forecast_window",
    help=tr("forecast.window.help"),
)
with guarded_read():
    result = parts.cached_forecast(url, as_of, weeks, window_days, actor)

tiles = st.columns(4)
tiles[0].metric(tr("forecast.open"), f"{result.open:,}")
tiles[1].metric(tr("forecast.pipeline"), short_money(result.pipeline, lang))
tiles[2].metric(tr("forecast.weighted"), short_money(result.weighted, lang))
tiles[3].metric(tr("forecast.slipped"), f"{result.slipped:,}", help=tr("forecast.slipped.help"))
if result.slipped:
    st.warning(tr("forecast.slipped_warning", count=result.slipped), icon=":material/event_busy:")

st.subheader(tr("forecast.by_week"))
st.altair_chart(weeks_chart(result.weeks, lang), width="stretch")
week_table = pd.DataFrame(
    [(w.week, w.start, w.deals, w.amount, w.weighted) for w in result.weeks],
    columns=[tr("forecast.week"), tr("forecast.start"), tr("forecast.deals"), tr("forecast.amount"),
             tr("forecast.weighted")],
)  # fmt: skip
st.dataframe(week_table, hide_index=True, width="stretch")

left, right = st.columns(2)
with left:
    st.subheader(tr("forecast.p_win"))
    st.caption(tr("forecast.p_win.caption", closed=result.closed_in_window, days=result.window_days))
    p_table = pd.DataFrame(
        [
            (pipeline.name(stage, lang), p, tr(f"forecast.source.{result.p_win_source[stage]}"))
            for stage, p in result.p_win.items()
        ],
        columns=[tr("forecast.stage"), tr("forecast.probability"), tr("forecast.source")],
    )
    st.dataframe(
        p_table,
        hide_index=True,
        width="stretch",
        column_config={tr("forecast.probability"): st.column_config.NumberColumn(format="percent")},
    )
with right:
    st.subheader(tr("forecast.categories"))
    st.caption(
        tr(
            "forecast.categories.caption",
            commit=settings.forecast_commit_percent,
            best_case=settings.forecast_best_case_percent,
        )
    )
    totals = category_totals(
        result.deals,
        commit_percent=settings.forecast_commit_percent,
        best_case_percent=settings.forecast_best_case_percent,
    )
    totals["category"] = totals["category"].map(lambda key: tr(f"forecast.category.{key}"))
    totals.columns = [
        tr("forecast.category"),
        tr("forecast.deals"),
        tr("forecast.amount"),
        tr("forecast.weighted"),
    ]
    st.dataframe(totals, hide_index=True, width="stretch")

st.subheader(tr("forecast.deals_title"))
with_amount = result.deals[result.deals["amount"] > 0]
# The largest weighted deals, not every one: at a million customers there are a quarter of a million open
# deals, and sending them all to the browser held the server past 1 GB (#12). The totals count them all.
deals = with_amount.sort_values("weighted", ascending=False).head(parts.DEALS_SHOWN)
if deals.empty:
    st.info(tr("forecast.no_deals"))
else:
    if len(with_amount) > len(deals):
        st.caption(tr("forecast.deals.top", shown=f"{len(deals):,}", total=f"{len(with_amount):,}"))
    # Labels by dictionary, not per row: the table can hold tens of thousands of deals.
    stage_names = {key: pipeline.name(key, lang) for key in pipeline.keys}
    category_names = {key: tr(f"forecast.category.{key}") for key in (*CATEGORIES, "omitted")}
    categories = deal_categories(
        deals,
        commit_percent=settings.forecast_commit_percent,
        best_case_percent=settings.forecast_best_case_percent,
    ).map(category_names)
    placed_names = {key: tr(f"forecast.placed.{key}") for key in ("date", "median")}
    called = deals["call"].notna()
    if called.any():
        by = deals.loc[called, "call_by"].map(lambda name: f" · {tr('forecast.call.by', name=name or '—')}")
        categories = categories.where(~called, categories + by)
    shown = pd.DataFrame(
        {
            "customer_no": deals["customer_no"],
            "name": deals["name"],
            "owner": deals["owner"].fillna("—"),
            "stage": deals["stage"].map(stage_names),
            "amount": deals["amount"],
            "p_win": deals["p_win"],
            "weighted": deals["weighted"],
            "close_on": deals["close_on"],
            "placed_by": deals["placed_by"].map(
                {key: tr(f"forecast.placed.{key}") for key in ("date", "median")}
            ),
            "category": categories,
            "slipped": deals["slipped"].map({True: tr("forecast.slipped_flag"), False: ""}),
        }
    )
    config = {
        "customer_no": st.column_config.TextColumn(tr("forecast.col.customer_no")),
        "name": st.column_config.TextColumn(tr("forecast.col.name")),
        "owner": st.column_config.TextColumn(tr("forecast.col.owner")),
        "stage": st.column_config.TextColumn(tr("forecast.stage")),
        "amount": st.column_config.NumberColumn(tr("forecast.amount"), format="localized"),
        "p_win": st.column_config.NumberColumn(tr("forecast.probability"), format="percent"),
        "weighted": st.column_config.NumberColumn(tr("forecast.weighted"), format="localized"),
        "close_on": st.column_config.DateColumn(tr("forecast.col.close_on")),
        "placed_by": st.column_config.TextColumn(tr("forecast.col.placed_by")),
        "category": st.column_config.TextColumn(tr("forecast.category")),
        "slipped": st.column_config.TextColumn(tr("forecast.col.slipped")),
    }
    event = st.dataframe(
        spreadsheet_safe(shown),
        column_config=config,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="forecast_deals",
    )
    st.caption(tr("forecast.deals.caption"))
    rows = event.selection.rows if event else []
    if rows:
        parts.call_panel(actor, deals.iloc[rows[0]], lang)

st.subheader(tr("forecast.trust"))
st.caption(tr("forecast.trust.caption"))
backtest_weeks = st.slider(
    tr("forecast.backtest_weeks"), 4, parts.MAX_BACKTEST_WEEKS, 8, key="forecast_backtest_weeks"
)
with guarded_read(), st.spinner(tr("forecast.backtesting")):
    tested = parts.cached_backtest(url, today, backtest_weeks, window_days, actor)
if tested.wape_pct is None:
    st.info(tr("forecast.backtest_empty"))
else:
    st.metric(tr("forecast.wape"), f"{tested.wape_pct:.0f} %", help=tr("forecast.wape.help"))
    st.altair_chart(accuracy_chart(tested.weeks, lang), width="stretch")
with guarded_read():
    snapshots = parts.cached_snapshots(url, today, actor)
if snapshots:
    st.markdown(f"**{tr('forecast.snapshots')}**")
    st.dataframe(
        pd.DataFrame(
            [(s.week, s.forecast, s.actual, s.error_pct) for s in snapshots],
            columns=[
                tr("forecast.week"),
                tr("forecast.forecast"),
                tr("forecast.actual"),
                tr("forecast.error"),
            ],
        ),
        hide_index=True,
        width="stretch",
    )
else:
    st.caption(
        tr("forecast.no_snapshots", next_week=(today + timedelta(days=7 - today.weekday())).isoformat())
    )

parts.summary_section(actor, lang)

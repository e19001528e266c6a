"""The dashboard's sections, rendered from funnel data (a helper, not a page)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st
from streamlit.elements.lib.column_types import ColumnConfig

from funnel.access.permissions import Actor, allowed
from funnel.analytics.charts import (
    STAGE_PICK,
    channel_chart,
    channel_frame,
    chart_png,
    chart_svg,
    funnel_chart,
    table_csv,
    table_xlsx,
)
from funnel.analytics.dashboard import LossDetail
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.funnel_math import FunnelSegment, LossPoint
from funnel.analytics.kpis import LOWER_IS_BETTER, Kpi, windows
from funnel.analytics.presentation import entity_table, short_money
from funnel.analytics.reasons import ReasonCount
from funnel.analytics.report import FunnelReport, report_table
from funnel.closing.objections import LIST_NAME as OBJECTION_LIST
from funnel.core.clock import team_today
from funnel.core.export import spreadsheet_safe
from funnel.core.i18n import catalogue, t
from funnel.pipeline.stages import WON, get_pipeline
from pages._shared.common import (
    CUSTOMERS,
    USERS,
    cached_drill,
    cached_list_labels,
    clear_area,
    current_language,
    database_url,
    get_engine,
    keep_translated_choices,
    tr,
)
from pages._shared.customer_parts import open_customer
from pages._shared.forms import guarded_read

log = logging.getLogger(__name__)
DEMO_LEADS = 2000


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


# Stored codes whose names come from a managed list (funnel.customers.lists), by the callers' prefix.
_LISTS = {"lost_reason": "lost_reason", "objection": OBJECTION_LIST}


def _known(prefix: str, value: str) -> str:
    """The name of a stored code in the reader's language: from its managed list, else from the message
    catalogue, else the value as stored (old free text stays readable)."""
    lang = current_language()
    names: dict[str, str] = {}
    if prefix in _LISTS:
        with guarded_read():
            names = cached_list_labels(database_url(), _LISTS[prefix], lang)
    if value in names:
        return names[value]
    key = f"{prefix}.{value}"
    return tr(key) if key in catalogue(lang) else value


def welcome(actor: Actor) -> None:
    """The empty dashboard; loading demo data needs the permission, and the settings may still forbid it."""
    from funnel.core.settings import get_settings
    from funnel.demo.catalog import DEMO_PASSWORD

    offer_demo = allowed(actor, "demo.load") and get_settings().allow_demo
    st.markdown(tr("dash.welcome" if offer_demo else "dash.welcome_no_demo"))
    load = False
    with st.container(horizontal=True, vertical_alignment="center"):
        if offer_demo:
            load = st.button(tr("dash.load_demo"), key="load_demo", type="primary", icon=":material/dataset:")
        st.page_link("pages/lead_entry.py", label=tr("dash.first_lead"), icon=":material/person_add:")
    if offer_demo:
        st.caption(tr("dash.demo_caution", password=DEMO_PASSWORD))
    if load:
        _load_demo(actor)


def _load_demo(actor: Actor) -> None:
    try:
        from funnel.demo.generate import generate_demo  # written separately; the page must load without it

        with st.spinner(tr("dash.loading_demo", leads=f"{DEMO_LEADS:,}")):
            generate_demo(get_engine(), leads=DEMO_LEADS, seed=42, actor=actor)
    except Exception:
        log.exception("loading demo data failed")
        st.error(tr("dash.demo_failed"))
        return
    clear_area(CUSTOMERS, USERS)  # the demo adds customers and its users
    st.rerun()


def metrics(overall: FunnelSegment) -> None:
    values = {
        "metric.total": f"{overall.total:,}",
        "metric.open": f"{overall.open:,}",
        "metric.won": f"{overall.won:,}",
        "metric.lost": f"{overall.lost:,}",
        "metric.win_rate": _percent(overall.win_rate),
        "metric.won_amount": short_money(overall.won_amount, current_language()),
    }
    # The amount is the widest figure; its tile gets a little more room.
    for column, (key, value) in zip(st.columns([1, 1, 1, 1, 1, 1.3]), values.items(), strict=True):
        column.metric(tr(key), value, help=tr(f"{key}.help"), border=True)


def _top(counts: dict[str, int], prefix: str, limit: int = 3) -> str:
    return ", ".join(f"{_known(prefix, name)} ({n:,})" for name, n in list(counts.items())[:limit])


def loss_callout(loss: LossPoint | None) -> None:
    if loss is None:
        return
    pipeline, lang = get_pipeline(), current_language()
    lines = [
        tr(
            "dash.loss_point",
            from_stage=pipeline.name(loss.at_stage, lang),
            to_stage=pipeline.name(loss.to_stage, lang),
            step=loss.step_conversion,
            dropped=f"{loss.drop_off:,}",
        )
    ]
    if loss.lost_reasons:
        lines.append(tr("dash.loss_reasons", reasons=_top(loss.lost_reasons, "lost_reason")))
    if loss.objections:
        lines.append(tr("dash.loss_objections", objections=_top(loss.objections, "objection")))
    st.warning("  \n".join(lines), icon=":material/trending_down:")


def funnel_section(report: FunnelReport, loss: LossPoint | None) -> None:
    table = report_table(replace(report, segments=[]), lang=current_language())
    st.subheader(tr("dash.funnel"))
    chart = funnel_chart(table, current_language(), loss_stage=loss.to_stage if loss else None)
    event = st.altair_chart(
        chart, width="stretch", on_select="rerun", selection_mode=STAGE_PICK, key="dash_funnel_chart"
    )
    # The event is a dict (attribute access too in a live session): {"selection": {STAGE_PICK: [...]}}.
    _drill_to_clicked_bar(dict(event or {}).get("selection", {}).get(STAGE_PICK) or [])
    st.caption(tr("dash.funnel_caption"))
    shown = table[["stage_name", "reached", "current", "step_conversion", "overall_conversion", "drop_off"]]
    _table(st, shown)
    funnel_downloads(funnel_export_table(report), chart)


_PERCENT_COLUMNS = {"step_conversion", "overall_conversion", "win_rate", "conversion_to_won", "share"}


def _table(where: Any, frame: pd.DataFrame) -> None:
    """A figures table; a rate or amount that does not exist (the first stage's step) shows as "—"."""
    shown = frame.copy()
    for name in shown.columns:
        if name in _PERCENT_COLUMNS:
            shown[name] = [_percent(None if pd.isna(v) else float(v)) for v in shown[name]]
        elif name == "amount":
            shown[name] = ["—" if pd.isna(v) else f"¥{v:,.0f}" for v in shown[name]]
    where.dataframe(shown, hide_index=True, width="stretch", column_config=_columns(shown.columns))


def _columns(names: pd.Index) -> dict[str, ColumnConfig]:
    config: dict[str, ColumnConfig] = {}
    for name in names:
        label = tr(f"table.{name}")
        if name in _PERCENT_COLUMNS or name == "amount":
            config[name] = st.column_config.TextColumn(label, alignment="right")
        elif name in ("stage_name", "channel", "step"):
            config[name] = st.column_config.TextColumn(label)
        else:
            config[name] = st.column_config.NumberColumn(label, format="localized")
    return config


def channel_section(segments: list[FunnelSegment]) -> None:
    st.subheader(tr("dash.by_channel"))
    if not segments:
        return
    frame = channel_frame(segments)
    frame["channel"] = frame["channel"].fillna(tr("table.none"))
    chart_col, table_col = st.columns(2)
    chart_col.altair_chart(channel_chart(frame, current_language()), width="stretch")
    shown = frame[["channel", "total", "won", "win_rate", "conversion_to_won"]]
    _table(table_col, shown)


def entity_section(entities: pd.DataFrame) -> None:
    st.subheader(tr("dash.entities"))
    st.caption(tr("dash.entities_caption"))
    table = entity_table(entities)
    table["step"] = [tr(f"entity.{step}") for step in table["step"]]
    _table(st, table)


# ---- KPI tiles


def _kpi_text(key: str, value: float | None, lang: str) -> str:
    if value is None:
        return "—"
    if key == "win_rate":
        return f"{value:.1%}"
    if key in ("won_amount", "open_pipeline", "collected"):
        return short_money(value, lang)
    if key == "median_days_to_win":
        return tr("kpi.days", days=f"{value:.1f}")
    if key == "speed_to_lead_hours":
        return tr("kpi.hours", hours=f"{value:.1f}")
    return f"{value:,.0f}"


def _kpi_delta(key: str, change: float | None, lang: str) -> str | None:
    if change is None:
        return None
    if key == "win_rate":
        return tr("kpi.points", points=f"{change * 100:+.1f}")
    sign = "+" if change >= 0 else "−"
    return sign + _kpi_text(key, abs(change), lang)


def kpi_section(tiles: list[Kpi], *, bounded: bool) -> None:
    """The KPI tiles: each with its change against the previous period of the same length."""
    lang = current_language()
    st.caption(tr("kpi.caption" if bounded else "kpi.caption_all"))
    for row in (tiles[:4], tiles[4:]):
        for column, tile in zip(st.columns(4), row, strict=False):
            column.metric(
                tr(f"kpi.{tile.key}"),
                _kpi_text(tile.key, tile.value, lang),
                delta=_kpi_delta(tile.key, tile.change, lang),
                delta_color="inverse" if tile.key in LOWER_IS_BETTER else "normal",
                help=tr(f"kpi.{tile.key}.help"),
                border=True,
            )


# ---- downloads of the funnel


def funnel_downloads(table: pd.DataFrame, chart: alt.TopLevelMixin) -> None:
    """The funnel table as CSV and Excel, the chart as PNG and SVG (made when clicked, offline)."""
    stem = "funnel"
    with st.container(horizontal=True):
        st.download_button(
            tr("dash.download_csv"),
            data=table_csv(table),
            file_name=f"{stem}.csv",
            mime="text/csv",
            icon=":material/download:",
            key="dash_dl_csv",
            on_click="ignore",
        )
        st.download_button(
            tr("dash.download_xlsx"),
            data=lambda: table_xlsx(table),
            file_name=f"{stem}.xlsx",
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            icon=":material/table:",
            key="dash_dl_xlsx",
            on_click="ignore",
        )
        st.download_button(
            tr("dash.download_png"),
            data=lambda: chart_png(chart),
            file_name=f"{stem}.png",
            mime="image/png",
            icon=":material/image:",
            key="dash_dl_png",
            on_click="ignore",
        )
        st.download_button(
            tr("dash.download_svg"),
            data=lambda: chart_svg(chart),
            file_name=f"{stem}.svg",
            mime="image/svg+xml",
            icon=":material/image:",
            key="dash_dl_svg",
            on_click="ignore",
        )


def funnel_export_table(report: FunnelReport) -> pd.DataFrame:
    """The funnel table as downloaded: one row per stage, stage names in the reader's language."""
    table = report_table(replace(report, segments=[]), lang=current_language())
    return table[
        ["stage", "stage_name", "reached", "current", "step_conversion", "overall_conversion", "drop_off"]
    ]


# ---- loss points


def loss_section(overall: FunnelSegment, loss_points: dict[str, LossDetail]) -> None:
    """For each lowest step: the lost reasons and objections recorded at the stage before it, and the
    customers stuck there longest (a click opens one); `loss_points` by that stage, from the dashboard's
    figures (funnel.analytics.dashboard)."""
    to_stages = overall.lowest_steps()
    if not to_stages:
        return
    pipeline, lang = get_pipeline(), current_language()
    st.subheader(tr("dash.loss_points"))
    for to_stage in to_stages:
        at_stage = overall.stages[overall.stages.index(to_stage) - 1]
        st.markdown(
            tr(
                "dash.loss_point_head",
                from_stage=pipeline.name(at_stage, lang),
                to_stage=pipeline.name(to_stage, lang),
                step=overall.step_conversion[to_stage] or 0.0,
                dropped=f"{overall.drop_off[to_stage]:,}",
            )
        )
        reasons, objections, stuck = loss_points[at_stage]
        reasons_col, objections_col = st.columns(2)
        reasons_col.caption(tr("dash.lost_reasons_there"))
        if reasons.empty:
            reasons_col.write(tr("dash.nothing_recorded"))
        else:
            named = [_known("lost_reason", r) if r else tr("table.none") for r in reasons["reason"]]
            shown = reasons.assign(reason=named)
            reasons_col.dataframe(
                shown,
                hide_index=True,
                width="stretch",
                column_config={
                    "reason": st.column_config.TextColumn(tr("table.reason")),
                    "customers": st.column_config.NumberColumn(tr("table.customers"), format="localized"),
                },
                key=f"dash_reasons_{at_stage}",
            )
        objections_col.caption(tr("dash.objections_there"))
        if objections.empty:
            objections_col.write(tr("dash.nothing_recorded"))
        else:
            shown = objections.assign(category=[_known("objection", c) for c in objections["category"]])
            objections_col.dataframe(
                shown,
                hide_index=True,
                width="stretch",
                column_config={
                    "category": st.column_config.TextColumn(tr("table.category")),
                    "objections": st.column_config.NumberColumn(tr("table.objections"), format="localized"),
                    "customers": st.column_config.NumberColumn(tr("table.customers"), format="localized"),
                },
                key=f"dash_objections_{at_stage}",
            )
        st.caption(tr("dash.stuck_there", stage=pipeline.name(at_stage, lang)))
        if stuck.empty:
            st.write(tr("dash.nobody_stuck"))
        else:
            customer_table(stuck, key=f"dash_stuck_{at_stage}", extra=["days"])


# ---- drill-down: the customers behind a figure


def customer_table(frame: pd.DataFrame, *, key: str, extra: tuple[str, ...] | list[str] = ()) -> None:
    """Customers as a table; choosing a row opens that customer's page."""
    pipeline, lang = get_pipeline(), current_language()
    shown = frame[["customer_no", "name", "channel", "owner", "stage", "status", "created_at", *extra]].copy()
    shown["stage"] = [pipeline.name(s, lang) for s in shown["stage"]]
    shown["status"] = [tr(f"leads.status.{s}") for s in shown["status"]]
    config: dict[str, Any] = {
        name: st.column_config.TextColumn(tr(f"drill.{name}"))
        for name in ("customer_no", "name", "channel", "owner", "stage", "status")
    }
    config["created_at"] = st.column_config.DatetimeColumn(tr("drill.created_at"), format="YYYY-MM-DD")
    config["days"] = st.column_config.NumberColumn(tr("drill.days"), format="localized")
    event = st.dataframe(
        spreadsheet_safe(shown),
        hide_index=True,
        width="stretch",
        column_config=config,
        on_select="rerun",
        selection_mode="single-row",
        key=key,
    )
    if event.selection.rows:
        open_customer(int(frame.iloc[event.selection.rows[0]]["id"]))


DRILL_KINDS = ("reached", "current", "won", "lost", "open", "kpi_new", "kpi_won", "kpi_lost")
# The KPI tiles one can drill into: the event each counts, by its own date in the tiles' period.
KPI_EVENTS = {"kpi_new": "created", "kpi_won": "won", "kpi_lost": "lost"}
_PICK_APPLIED = "dash_funnel_pick_applied"


def _drill_to_clicked_bar(picked: list[dict[str, Any]]) -> None:
    """A newly clicked bar sets the drill-down (drawn further down) to the customers who reached it;
    the drill-down's own choices stay free until another bar is clicked."""
    stages = [p.get("stage") for p in picked if p.get("stage") in get_pipeline().funnel_keys]
    if stages and stages != st.session_state.get(_PICK_APPLIED):
        st.session_state["dash_drill_kind"] = "reached"
        st.session_state["dash_drill_stage"] = stages[0]
    st.session_state[_PICK_APPLIED] = stages


def drill_section(report: FunnelReport, url: str, filters: CustomerFilter, actor: Actor) -> None:
    """Pick a figure (a funnel bar, a table cell, an outcome) and see the customers behind it."""
    pipeline, lang = get_pipeline(), current_language()
    st.subheader(tr("dash.drill"))
    keep_translated_choices("dash_drill_kind", "dash_drill_stage")
    kind_col, stage_col = st.columns(2)
    kind = kind_col.selectbox(
        tr("dash.drill_kind"),
        options=list(DRILL_KINDS),
        format_func=lambda k: t(f"drill.kind.{k}", lang),
        key="dash_drill_kind",
    )
    stage = None
    if kind in ("reached", "current"):
        stages = report.stages if kind == "reached" else [s for s in report.stages if s != WON]
        stage = stage_col.selectbox(
            tr("dash.drill_stage"),
            options=stages,
            format_func=lambda s: pipeline.name(s, lang),
            key="dash_drill_stage",
        )
    reached = stage if kind == "reached" else None
    current = stage if kind == "current" else None
    status = kind if kind in ("won", "lost", "open") else None
    event = None
    # The report counted these customers already (a KPI tile's event is counted by the drill).
    known = report.overall.drill_total(reached=reached, current=current, status=status)
    if kind in KPI_EVENTS:
        # As the tiles count: by the event's own date in the period, the attribute filters only.
        window, _ = windows(filters.since, filters.until, today=team_today())
        event = (KPI_EVENTS[kind], window.start, window.end)
        filters = replace(filters, since=None, until=None)
    with guarded_read():
        frame, total = cached_drill(url, filters, reached, current, status, actor, event, known)
    st.caption(tr("dash.drill_count", shown=f"{len(frame):,}", total=f"{total:,}"))
    if not frame.empty:
        customer_table(frame, key="dash_drill_table")


def lost_reasons_section(reasons: list[ReasonCount]) -> None:
    """Every lost customer of the filter, counted by its lost reason (names in the reader's language)."""
    lost = sum(row.count for row in reasons)
    st.subheader(tr("dash.lost_by_reason"))
    if not lost:
        st.caption(tr("dash.no_lost"))
        return
    lang = current_language()
    table = pd.DataFrame(
        {
            "reason": [row.label(lang) + ("" if row.listed else " *") for row in reasons],
            "customers": [row.count for row in reasons],
            "share": [row.count / lost for row in reasons],
        }
    )
    st.dataframe(
        table[table["customers"] > 0],
        hide_index=True,
        width="stretch",
        column_config={
            "reason": st.column_config.TextColumn(tr("table.reason")),
            "customers": st.column_config.NumberColumn(tr("table.customers"), format="localized"),
            "share": st.column_config.NumberColumn(tr("dash.share"), format="percent"),
        },
        key="dash_lost_by_reason",
    )
    if any(not row.listed and row.count for row in reasons):
        st.caption(tr("dash.unlisted_reasons"))


def qualification_section(bands: list[ReasonCount], competitors: list[ReasonCount]) -> None:
    """What qualification found: the open customers by budget band, and how often each competitor is named."""
    st.subheader(tr("dash.qualification"))
    lang = current_language()
    left, right = st.columns(2)
    for column, rows, title, key in (
        (left, bands, "dash.open_by_band", "dash_bands"),
        (right, competitors, "dash.competitors", "dash_competitors"),
    ):
        column.caption(tr(title))
        shown = [row for row in rows if row.count]
        if not shown:
            column.write(tr("dash.nothing_recorded"))
            continue
        column.dataframe(
            pd.DataFrame({"value": [r.label(lang) for r in shown], "customers": [r.count for r in shown]}),
            hide_index=True,
            width="stretch",
            column_config={
                "value": st.column_config.TextColumn(tr(f"{title}.value")),
                "customers": st.column_config.NumberColumn(tr("table.customers"), format="localized"),
            },
            key=key,
        )

"""The dashboard's sections, rendered from funnel data (a helper, not a page)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.elements.lib.column_types import ColumnConfig

from funnel.access.permissions import Actor, allowed
from funnel.analytics.charts import channel_chart, channel_frame, funnel_chart
from funnel.analytics.funnel_math import FunnelSegment, LossPoint
from funnel.analytics.presentation import entity_table, short_money
from funnel.analytics.report import FunnelReport, report_table
from funnel.core.i18n import catalogue
from funnel.pipeline.stages import get_pipeline
from pages._shared.common import CUSTOMERS, USERS, clear_area, current_language, get_engine, tr

log = logging.getLogger(__name__)
DEMO_LEADS = 2000


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _known(prefix: str, value: str) -> str:
    """A translated label for a stored value when the catalogue has one, else the value itself."""
    key = f"{prefix}.{value}"
    return tr(key) if key in catalogue(current_language()) else value


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
    st.altair_chart(chart, width="stretch")
    st.caption(tr("dash.funnel_caption"))
    shown = table[["stage_name", "reached", "current", "step_conversion", "overall_conversion", "drop_off"]]
    _table(st, shown)


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

"""Altair chart builders for the dashboard; each returns an `alt.Chart` (test with `.to_dict()`)."""

from __future__ import annotations

import io
from typing import Any

import altair as alt
import pandas as pd

from funnel.analytics.funnel_math import FunnelSegment
from funnel.core.i18n import t
from funnel.pipeline.stages import Pipeline, get_pipeline

BAR_COLOR = "#4C78A8"
LOSS_COLOR = "#E45756"
# Room to the right of the longest bar for its label ("200 · step 20% · overall 20% · −800").
_LABEL_ROOM = 1.75
# The funnel chart's selection parameter: the stage of a clicked bar.
STAGE_PICK = "stage_pick"
# A chart saved as an image (PNG, SVG) has no container to stretch to: this wide.
EXPORT_WIDTH = 720


def _percent(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.0%}"


def _stage_label(row: pd.Series, lang: str) -> str:
    count = f"{int(row['reached']):,}"
    if pd.isna(row["step_conversion"]):
        return count
    return t(
        "chart.stage_label_drop",
        lang,
        count=count,
        step=_percent(row["step_conversion"]),
        overall=_percent(row["overall_conversion"]),
        dropped=f"{int(row['drop_off']):,}",
    )


def funnel_chart(
    table: pd.DataFrame, lang: str, *, loss_stage: str | None = None, pipeline: Pipeline | None = None
) -> alt.LayerChart:
    """Horizontal bars of `reached` per stage in pipeline order, labelled, the loss point in red.

    `table` has the columns of `analytics.report.report_table` for one segment; `loss_stage` is the stage
    the biggest loss failed to reach (`LossPoint.to_stage`).
    """
    pipeline = pipeline or get_pipeline()
    columns = ["stage", "stage_name", "reached", "step_conversion", "overall_conversion", "drop_off"]
    frame = table[columns].sort_values("stage", key=lambda keys: keys.map(pipeline.rank))
    frame["is_loss"] = frame["stage"] == loss_stage
    frame["label"] = [_stage_label(row, lang) for _, row in frame.iterrows()]
    # Altair sorts a nominal axis alphabetically unless given the order; a funnel reads top to bottom.
    order = frame["stage_name"].tolist()
    top = max(int(frame["reached"].max() or 0), 1)
    y = alt.Y("stage_name:N", sort=order, title=None, axis=alt.Axis(labelLimit=200, labelFontSize=13))
    x = alt.X(
        "reached:Q",
        title=t("chart.reached", lang),
        scale=alt.Scale(domain=[0, top * _LABEL_ROOM], nice=False),
        axis=alt.Axis(format="~s", tickCount=5),
    )
    base = alt.Chart(frame).encode(y=y)
    # Clicking a bar selects its stage (the dashboard drills down to the customers who reached it).
    pick = alt.selection_point(name=STAGE_PICK, fields=["stage"], on="click")
    bars = (
        base.mark_bar(cornerRadiusEnd=3, height={"band": 0.75}, cursor="pointer")
        .add_params(pick)
        .encode(
            x=x,
            color=alt.condition(alt.datum.is_loss, alt.value(LOSS_COLOR), alt.value(BAR_COLOR)),
            tooltip=[
                alt.Tooltip("stage_name:N", title=t("table.stage", lang)),
                alt.Tooltip("reached:Q", title=t("table.reached", lang), format=","),
                alt.Tooltip("step_conversion:Q", title=t("table.step_conversion", lang), format=".1%"),
                alt.Tooltip("overall_conversion:Q", title=t("table.overall_conversion", lang), format=".1%"),
                alt.Tooltip("drop_off:Q", title=t("table.drop_off", lang), format=","),
            ],
        )
    )
    labels = base.mark_text(align="left", dx=6, fontSize=12).encode(
        x="reached:Q",
        text="label:N",
        color=alt.condition(alt.datum.is_loss, alt.value(LOSS_COLOR), alt.value("#31333F")),
    )
    return (bars + labels).properties(height=max(48 * len(frame), 120))


def channel_frame(segments: list[FunnelSegment]) -> pd.DataFrame:
    """One row per channel: total, won, lost, win rate and overall conversion from first stage to won."""
    rows = [
        {
            "channel": segment.value,
            "total": segment.total,
            "won": segment.won,
            "lost": segment.lost,
            "open": segment.open,
            "win_rate": segment.win_rate,
            "conversion_to_won": segment.overall_conversion[segment.stages[-1]],
        }
        for segment in segments
    ]
    columns = ["channel", "total", "won", "lost", "open", "win_rate", "conversion_to_won"]
    return pd.DataFrame(rows, columns=columns)


def channel_chart(frame: pd.DataFrame, lang: str) -> alt.LayerChart:
    """Overall conversion to won per channel, best first, labelled with the rate and the lead count."""
    data = frame.assign(
        channel=frame["channel"].fillna(t("table.none", lang)),
        conversion_to_won=frame["conversion_to_won"].astype("float64").fillna(0.0),
    )
    data["label"] = [
        t("chart.channel_label", lang, rate=_percent(rate), total=f"{total:,}")
        for rate, total in zip(data["conversion_to_won"], data["total"], strict=True)
    ]
    order = data.sort_values(["conversion_to_won", "total"], ascending=False)["channel"].tolist()
    top = max(float(data["conversion_to_won"].max() or 0.0), 0.01)
    base = alt.Chart(data).encode(y=alt.Y("channel:N", sort=order, title=None, axis=alt.Axis(labelLimit=160)))
    bars = base.mark_bar(color=BAR_COLOR, cornerRadiusEnd=3).encode(
        x=alt.X(
            "conversion_to_won:Q",
            title=t("table.conversion_to_won", lang),
            scale=alt.Scale(domain=[0, top * 1.5], nice=False),
            axis=alt.Axis(format="%", tickCount=4),
        ),
        tooltip=[
            alt.Tooltip("channel:N", title=t("table.channel", lang)),
            alt.Tooltip("total:Q", title=t("table.total", lang), format=","),
            alt.Tooltip("won:Q", title=t("table.won", lang), format=","),
            alt.Tooltip("win_rate:Q", title=t("table.win_rate", lang), format=".1%"),
            alt.Tooltip("conversion_to_won:Q", title=t("table.conversion_to_won", lang), format=".1%"),
        ],
    )
    labels = base.mark_text(align="left", dx=6, fontSize=12).encode(x="conversion_to_won:Q", text="label:N")
    return (bars + labels).properties(height=max(32 * len(data), 120))


# ---- the conversion analysis (pages/analysis.py)

SMALL_COLOR = "#D9D9D9"


def segment_heatmap(frame: pd.DataFrame, lang: str, *, stage_order: list[str]) -> alt.LayerChart:
    """Step conversion per (segment, stage) as coloured cells, each labelled with its rate and sample;
    a cell with too few trials is grey. Clicking a cell selects it (selection "cell": segment, stage_name).

    `frame` is `segments.heatmap_frame` with a `stage_name` column; `stage_order` the stage names in order.
    """
    data = frame.assign(
        rate_label=[
            t("analysis.chart.cell", lang, rate=_percent(rate), n=f"{int(n):,}")
            for rate, n in zip(frame["step_conversion"], frame["trials"], strict=True)
        ]
    )
    cell = alt.selection_point(name="cell", fields=["segment", "stage_name"], on="click")
    x = alt.X("stage_name:N", sort=stage_order, title=None, axis=alt.Axis(labelAngle=0, orient="top"))
    y = alt.Y("segment:N", title=None, sort=None, axis=alt.Axis(labelLimit=180))
    base = alt.Chart(data).encode(x=x, y=y)
    rects = (
        base.mark_rect(stroke="white", strokeWidth=2)
        .encode(
            color=alt.condition(
                "datum.small || datum.step_conversion == null",
                alt.value(SMALL_COLOR),
                alt.Color(
                    "step_conversion:Q",
                    title=t("table.step_conversion", lang),
                    scale=alt.Scale(scheme="blues", domain=[0, 1]),
                    legend=alt.Legend(format="%"),
                ),
            ),
            opacity=alt.condition(cell, alt.value(1.0), alt.value(0.55)),
            tooltip=[
                alt.Tooltip("segment:N", title=t("analysis.segment", lang)),
                alt.Tooltip("stage_name:N", title=t("table.stage", lang)),
                alt.Tooltip("trials:Q", title=t("analysis.trials", lang), format=","),
                alt.Tooltip("reached:Q", title=t("table.reached", lang), format=","),
                alt.Tooltip("step_conversion:Q", title=t("table.step_conversion", lang), format=".1%"),
                alt.Tooltip("low:Q", title=t("analysis.ci_low", lang), format=".1%"),
                alt.Tooltip("high:Q", title=t("analysis.ci_high", lang), format=".1%"),
            ],
        )
        .add_params(cell)
    )
    text = base.mark_text(fontSize=11).encode(
        text="rate_label:N",
        color=alt.condition(
            "datum.step_conversion > 0.6 && !datum.small", alt.value("white"), alt.value("#31333F")
        ),
    )
    rows = max(int(data["segment"].nunique()), 1)
    return (rects + text).properties(height=max(36 * rows, 120))


def cohort_chart(table: pd.DataFrame, lang: str) -> alt.LayerChart:
    """Customers per creation cohort (bars) and conversion to won (line); incomplete cohorts paler."""
    data = table.assign(
        state=[t(f"analysis.cohort.{'incomplete' if i else 'complete'}", lang) for i in table["incomplete"]],
        conversion_to_won=table["conversion_to_won"].astype("float64"),
    )
    x = alt.X("cohort:N", sort=None, title=None, axis=alt.Axis(labelAngle=-45))
    bars = (
        alt.Chart(data)
        .mark_bar(color=BAR_COLOR)
        .encode(
            x=x,
            y=alt.Y("customers:Q", title=t("analysis.customers", lang), axis=alt.Axis(format="~s")),
            opacity=alt.Opacity(
                "state:N",
                title=None,
                scale=alt.Scale(
                    domain=[t("analysis.cohort.complete", lang), t("analysis.cohort.incomplete", lang)],
                    range=[0.9, 0.35],
                ),
            ),
            tooltip=[
                alt.Tooltip("cohort:N", title=t("analysis.cohort", lang)),
                alt.Tooltip("customers:Q", title=t("analysis.customers", lang), format=","),
                alt.Tooltip("won:Q", title=t("table.won", lang), format=","),
                alt.Tooltip("lost:Q", title=t("metric.lost", lang), format=","),
                alt.Tooltip("open:Q", title=t("metric.open", lang), format=","),
                alt.Tooltip("conversion_to_won:Q", title=t("table.conversion_to_won", lang), format=".1%"),
                alt.Tooltip("win_rate:Q", title=t("table.win_rate", lang), format=".1%"),
                alt.Tooltip("state:N", title=t("analysis.cohort.state", lang)),
            ],
        )
    )
    line = (
        alt.Chart(data)
        .mark_line(color=LOSS_COLOR, point=True)
        .encode(
            x=x,
            y=alt.Y(
                "conversion_to_won:Q", title=t("table.conversion_to_won", lang), axis=alt.Axis(format="%")
            ),
            strokeDash=alt.StrokeDash("state:N", legend=None),
        )
    )
    return alt.layer(bars, line).resolve_scale(y="independent").properties(height=320)


def velocity_chart(table: pd.DataFrame, lang: str, *, stall: str | None) -> alt.LayerChart:
    """Median days in each stage (bars) with the 80th percentile (ticks); the stall stage in red.

    `table` has `stage`, `stage_name`, `customers`, `median_days`, `p80_days` for one segment.
    """
    data = table.assign(is_stall=table["stage"] == stall)
    order = data["stage_name"].tolist()
    y = alt.Y("stage_name:N", sort=order, title=None, axis=alt.Axis(labelLimit=200))
    base = alt.Chart(data).encode(y=y)
    tooltip = [
        alt.Tooltip("stage_name:N", title=t("table.stage", lang)),
        alt.Tooltip("customers:Q", title=t("analysis.customers", lang), format=","),
        alt.Tooltip("median_days:Q", title=t("analysis.median_days", lang), format=".1f"),
        alt.Tooltip("p80_days:Q", title=t("analysis.p80_days", lang), format=".1f"),
    ]
    bars = base.mark_bar(cornerRadiusEnd=3).encode(
        x=alt.X("median_days:Q", title=t("analysis.days", lang)),
        color=alt.condition(alt.datum.is_stall, alt.value(LOSS_COLOR), alt.value(BAR_COLOR)),
        tooltip=tooltip,
    )
    ticks = base.mark_tick(color="#31333F", thickness=2, size=22).encode(x="p80_days:Q", tooltip=tooltip)
    return (bars + ticks).properties(height=max(44 * len(data), 120))


def cash_chart(steps: pd.DataFrame, lang: str) -> alt.LayerChart:
    """Customers at each through-to-cash step, labelled with the count and the amount.

    `steps` has `step_name`, `customers`, `amount_label` (already formatted for the reader).
    """
    order = steps["step_name"].tolist()
    top = max(int(steps["customers"].max() or 0), 1)
    base = alt.Chart(steps).encode(
        y=alt.Y("step_name:N", sort=order, title=None, axis=alt.Axis(labelLimit=200))
    )
    bars = base.mark_bar(color=BAR_COLOR, cornerRadiusEnd=3).encode(
        x=alt.X(
            "customers:Q",
            title=t("analysis.customers", lang),
            scale=alt.Scale(domain=[0, top * _LABEL_ROOM], nice=False),
            axis=alt.Axis(format="~s"),
        ),
        tooltip=[
            alt.Tooltip("step_name:N", title=t("analysis.step", lang)),
            alt.Tooltip("customers:Q", title=t("analysis.customers", lang), format=","),
            alt.Tooltip("amount_label:N", title=t("table.amount", lang)),
        ],
    )
    labels = base.mark_text(align="left", dx=6, fontSize=12).encode(x="customers:Q", text="label:N")
    return (bars + labels).properties(height=max(48 * len(steps), 120))


def _export_spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    spec: dict[str, Any] = chart.to_dict()
    spec.setdefault("width", EXPORT_WIDTH)
    spec.setdefault("background", "white")
    return spec


def chart_png(chart: alt.TopLevelMixin, *, scale: float = 2.0) -> bytes:
    """The chart as a PNG image, rendered offline (vl-convert: no browser, no network)."""
    import vl_convert

    return bytes(vl_convert.vegalite_to_png(_export_spec(chart), scale=scale))


def chart_svg(chart: alt.TopLevelMixin) -> str:
    """The chart as an SVG document, rendered offline (vl-convert)."""
    import vl_convert

    return str(vl_convert.vegalite_to_svg(_export_spec(chart)))


def table_xlsx(frame: pd.DataFrame, *, sheet: str = "funnel") -> bytes:
    """A table as an Excel workbook (openpyxl); cells a spreadsheet would run as formulas are neutralised."""
    from funnel.core.export import spreadsheet_safe

    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        spreadsheet_safe(frame).to_excel(writer, sheet_name=sheet[:31], index=False)
    return buffer.getvalue()


def table_csv(frame: pd.DataFrame) -> bytes:
    """A table as CSV in UTF-8 with a byte-order mark (so that Excel reads Chinese correctly)."""
    from funnel.core.export import spreadsheet_safe

    return spreadsheet_safe(frame).to_csv(index=False).encode("utf-8-sig")

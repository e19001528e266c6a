"""Altair chart builders for the dashboard; each returns an `alt.Chart` (test with `.to_dict()`)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from funnel.analytics.funnel_math import FunnelSegment
from funnel.core.i18n import t
from funnel.pipeline.stages import Pipeline, get_pipeline

BAR_COLOR = "#4C78A8"
LOSS_COLOR = "#E45756"
# Room to the right of the longest bar for its label ("1,000 · step 20% · overall 20%").
_LABEL_ROOM = 1.45


def _percent(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.0%}"


def _stage_label(row: pd.Series, lang: str) -> str:
    count = f"{int(row['reached']):,}"
    if pd.isna(row["step_conversion"]):
        return count
    return t(
        "chart.stage_label",
        lang,
        count=count,
        step=_percent(row["step_conversion"]),
        overall=_percent(row["overall_conversion"]),
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
    bars = base.mark_bar(cornerRadiusEnd=3, height={"band": 0.75}).encode(
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

"""The forecast page's charts: the weeks ahead, and forecast against what was won."""

from __future__ import annotations

import altair as alt
import pandas as pd

from funnel.analytics.forecast import BacktestWeek, ForecastWeek
from funnel.core.i18n import t

AMOUNT_COLOR, WEIGHTED_COLOR, ACTUAL_COLOR = "#C9D7F0", "#1F5FBF", "#2E7D32"


def weeks_chart(weeks: list[ForecastWeek], lang: str) -> alt.Chart:
    """Per ISO week: the open amount expected to close (light) and the same weighted by P(win) (dark)."""
    rows = []
    for week in weeks:
        rows.append(
            {
                "week": week.week,
                "measure": t("forecast.amount", lang),
                "value": week.amount,
                "deals": week.deals,
            }
        )
        rows.append(
            {
                "week": week.week,
                "measure": t("forecast.weighted", lang),
                "value": week.weighted,
                "deals": week.deals,
            }
        )
    frame = pd.DataFrame(rows, columns=["week", "measure", "value", "deals"])
    measures = [t("forecast.amount", lang), t("forecast.weighted", lang)]
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("week:N", title=t("forecast.week", lang), sort=[w.week for w in weeks]),
            xOffset=alt.XOffset("measure:N", sort=measures),
            y=alt.Y("value:Q", title=t("forecast.cny", lang), axis=alt.Axis(format="~s")),
            color=alt.Color(
                "measure:N",
                title=None,
                sort=measures,
                scale=alt.Scale(domain=measures, range=[AMOUNT_COLOR, WEIGHTED_COLOR]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("week:N", title=t("forecast.week", lang)),
                alt.Tooltip("measure:N", title=" "),
                alt.Tooltip("value:Q", title=t("forecast.cny", lang), format=",.0f"),
                alt.Tooltip("deals:Q", title=t("forecast.deals", lang)),
            ],
        )
        .properties(height=280)
    )


def accuracy_chart(weeks: list[BacktestWeek], lang: str) -> alt.Chart:
    """Per past week: the weighted forecast made before it began, and what was actually won in it."""
    forecast_label, actual_label = t("forecast.forecast", lang), t("forecast.actual", lang)
    rows = []
    for week in weeks:
        rows.append({"week": week.week, "measure": forecast_label, "value": week.forecast})
        rows.append({"week": week.week, "measure": actual_label, "value": week.actual})
    frame = pd.DataFrame(rows, columns=["week", "measure", "value"])
    return (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("week:N", title=t("forecast.week", lang), sort=[w.week for w in weeks]),
            y=alt.Y("value:Q", title=t("forecast.cny", lang), axis=alt.Axis(format="~s")),
            color=alt.Color(
                "measure:N",
                title=None,
                scale=alt.Scale(domain=[forecast_label, actual_label], range=[WEIGHTED_COLOR, ACTUAL_COLOR]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("week:N", title=t("forecast.week", lang)),
                alt.Tooltip("measure:N", title=" "),
                alt.Tooltip("value:Q", title=t("forecast.cny", lang), format=",.0f"),
            ],
        )
        .properties(height=240)
    )

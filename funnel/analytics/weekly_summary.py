"""The one-page weekly summary for leadership: the week's changes, the funnel, its top loss point, the
forecast — as one self-contained HTML file (charts inlined as SVG, made offline by vl-convert), printable
to PDF from any browser, and optionally announced to the leadership's group bots through the inbox.

The week is an ISO week (Monday to Sunday in the team's zone); a week still running is summed to date
and its forecast made as of today. The week's changes are the KPI tiles of that week against the week
before (funnel.analytics.kpis); the funnel covers the customers created in the 90 days up to the week's
end, so that its losses are recent ones.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import date, timedelta

import altair as alt
import pandas as pd
import vl_convert
from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, require
from funnel.analytics.charts import funnel_chart
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.forecast import Forecast, build_forecast, category_totals, iso_week, week_start
from funnel.analytics.forecast_charts import weeks_chart
from funnel.analytics.funnel_math import LossPoint
from funnel.analytics.kpis import Kpi, kpi_tiles
from funnel.analytics.report import FunnelReport, build_report, report_table
from funnel.core.clock import team_today
from funnel.core.i18n import LANGUAGES, t
from funnel.core.settings import get_settings
from funnel.inbox.notify import notify
from funnel.pipeline.stages import Pipeline, get_pipeline
from funnel.store.models import User

FUNNEL_DAYS = 90  # the funnel covers the customers created in this many days up to the week's end
FORECAST_WEEKS = 6
MONEY_KPIS = frozenset({"won_amount", "open_pipeline", "collected"})
PERCENT_KPIS = frozenset({"win_rate"})


@dataclass(frozen=True)
class WeeklySummary:
    week: str  # ISO week, "2026-W49"
    start: date  # its Monday
    end: date  # its Sunday, or today while the week runs
    complete: bool
    kpis: list[Kpi]
    funnel_since: date
    report: FunnelReport
    loss: LossPoint | None
    forecast: Forecast
    categories: pd.DataFrame


def parse_week(text: str) -> date:
    """The Monday of ISO week "YYYY-Www" (ValueError naming the expected form otherwise)."""
    try:
        year, week = text.strip().upper().split("-W")
        return date.fromisocalendar(int(year), int(week), 1)
    except ValueError as exc:
        raise ValueError(f"week {text!r} is not an ISO week like 2026-W49") from exc


def build_summary(
    session: Session, *, actor: Actor, day: date | None = None, pipeline: Pipeline | None = None
) -> WeeklySummary:
    """The summary of the ISO week holding `day` (default: today), for what `actor` may see."""
    require(actor, "forecast.read")
    pipeline = pipeline or get_pipeline()
    today = team_today()
    day = min(day or today, today)
    start = week_start(day)
    complete = start + timedelta(days=6) < today
    end = start + timedelta(days=6) if complete else today
    kpis = kpi_tiles(session, actor=actor, since=start, until=end, today=today)
    funnel_since = end - timedelta(days=FUNNEL_DAYS - 1)
    report = build_report(
        session, actor=actor, filters=CustomerFilter(since=funnel_since, until=end), pipeline=pipeline
    )
    forecast = build_forecast(session, actor=actor, as_of=end, weeks=FORECAST_WEEKS, pipeline=pipeline)
    settings = get_settings()
    categories = category_totals(
        forecast.deals,
        commit_percent=settings.forecast_commit_percent,
        best_case_percent=settings.forecast_best_case_percent,
    )
    return WeeklySummary(
        week=iso_week(start),
        start=start,
        end=end,
        complete=complete,
        kpis=kpis,
        funnel_since=funnel_since,
        report=report,
        loss=report.overall.loss_point(report.details),
        forecast=forecast,
        categories=categories,
    )


# ----------------------------------------------------------------------------------------- rendering


def _number(key: str, value: float | None, lang: str) -> str:
    if value is None:
        return "—"
    if key in PERCENT_KPIS:
        return f"{value:.0%}"
    if key in MONEY_KPIS:
        return f"¥{value:,.0f}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def _change(kpi: Kpi, lang: str) -> str:
    change = kpi.change
    if change is None:
        return ""
    if kpi.key in PERCENT_KPIS:
        text = f"{change * 100:+.0f} pt"
    elif kpi.key in MONEY_KPIS:
        text = f"{'+' if change >= 0 else '−'}¥{abs(change):,.0f}"
    else:
        text = f"{change:+,.0f}" if float(change).is_integer() else f"{change:+,.1f}"
    return t("summary.vs_last_week", lang, change=text)


def _svg(chart: alt.TopLevelMixin) -> str:
    """The chart as inline SVG, rendered offline (no browser, no network)."""
    svg: str = vl_convert.vegalite_to_svg(json.loads(chart.properties(width=700).to_json()))
    return svg[svg.find("<svg") :]


def _rows(cells: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = """
body{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",system-ui,sans-serif;color:#1f2430;
max-width:980px;margin:24px auto;padding:0 16px;font-size:14px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:16px;margin:22px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.muted{color:#667}.tiles{display:grid;grid-template-columns:repeat(4,1fr);gap:10px}
.tile{border:1px solid #e3e5ea;border-radius:6px;padding:8px 10px}.tile b{font-size:18px;display:block}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border-bottom:1px solid #eee;padding:4px 6px;
text-align:left}td.n,th.n{text-align:right}.loss{color:#c0392b}svg{max-width:100%;height:auto}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}.tiles,table,svg{break-inside:avoid}}
"""


def render_html(summary: WeeklySummary, lang: str, *, pipeline: Pipeline | None = None) -> str:
    """The summary as one printable HTML page in `lang`; every text from the data is escaped."""
    pipeline = pipeline or get_pipeline()
    esc = html.escape
    title = t("summary.title", lang, week=summary.week)
    period = t(
        "summary.period" if summary.complete else "summary.period_to_date",
        lang,
        start=summary.start.isoformat(),
        end=summary.end.isoformat(),
    )
    tiles = "".join(
        f'<div class="tile"><span class="muted">{esc(t(f"summary.kpi.{k.key}", lang))}</span>'
        f'<b>{esc(_number(k.key, k.value, lang))}</b><span class="muted">{esc(_change(k, lang))}</span></div>'
        for k in summary.kpis
    )

    table = report_table(summary.report, lang=lang, pipeline=pipeline)
    overall = table[table["segment"] == "(all)"] if "segment" in table.columns else table
    loss = summary.loss
    funnel_rows = [
        [
            esc(pipeline.name(str(row.stage), lang)),
            f"{int(row.reached):,}",
            "—" if pd.isna(row.step_conversion) else f"{row.step_conversion:.1%}",
            "—" if pd.isna(row.overall_conversion) else f"{row.overall_conversion:.1%}",
        ]
        for row in overall.itertuples()
    ]
    funnel_svg = _svg(
        funnel_chart(overall, lang, loss_stage=loss.to_stage if loss else None, pipeline=pipeline)
    )
    if loss is None:
        loss_html = f"<p>{esc(t('summary.no_loss', lang))}</p>"
    else:
        reasons = ", ".join(f"{esc(k)} ({v})" for k, v in list(loss.lost_reasons.items())[:5]) or "—"
        objections = ", ".join(f"{esc(k)} ({v})" for k, v in list(loss.objections.items())[:5]) or "—"
        line = t(
            "summary.loss_line",
            lang,
            at=pipeline.name(loss.at_stage, lang),
            to=pipeline.name(loss.to_stage, lang),
            conversion=f"{loss.step_conversion:.0%}",
            dropped=f"{loss.drop_off:,}",
        )
        loss_html = (
            f'<p class="loss"><b>{esc(line)}</b></p>'
            f"<p>{esc(t('summary.lost_reasons', lang))}: {reasons}<br>"
            f"{esc(t('summary.objections', lang))}: {objections}</p>"
        )

    forecast = summary.forecast
    week_rows = [
        [esc(w.week), esc(w.start.isoformat()), f"{w.deals:,}", f"¥{w.amount:,.0f}", f"¥{w.weighted:,.0f}"]
        for w in forecast.weeks
    ]
    category_rows = [
        [
            esc(t(f"forecast.category.{row.category}", lang)),
            f"{int(row.deals):,}",
            f"¥{row.amount:,.0f}",
            f"¥{row.weighted:,.0f}",
        ]
        for row in summary.categories.itertuples()
    ]
    forecast_line = t(
        "summary.forecast_line",
        lang,
        open=f"{forecast.open:,}",
        pipeline=f"¥{forecast.pipeline:,.0f}",
        weighted=f"¥{forecast.weighted:,.0f}",
        slipped=f"{forecast.slipped:,}",
    )
    return f"""<!doctype html>
<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>
<style>{_STYLE}</style></head><body>
<h1>{esc(title)}</h1><p class="muted">{esc(period)}</p>
<h2>{esc(t("summary.changes", lang))}</h2><div class="tiles">{tiles}</div>
<h2>{esc(t("summary.funnel", lang, since=summary.funnel_since.isoformat(), end=summary.end.isoformat()))}</h2>
{funnel_svg}
{_rows(funnel_rows, [t("table.stage", lang), t("table.reached", lang), t("table.step_conversion", lang), t("table.overall_conversion", lang)])}
<h2>{esc(t("summary.top_loss", lang))}</h2>{loss_html}
<h2>{esc(t("summary.forecast", lang, as_of=forecast.as_of.isoformat()))}</h2>
<p>{esc(forecast_line)}</p>
{_svg(weeks_chart(forecast.weeks, lang))}
{_rows(week_rows, [t("forecast.week", lang), t("forecast.start", lang), t("forecast.deals", lang), t("forecast.amount", lang), t("forecast.weighted", lang)])}
{_rows(category_rows, [t("forecast.category", lang), t("forecast.deals", lang), t("forecast.amount", lang), t("forecast.weighted", lang)])}
<p class="muted">{esc(t("summary.footer", lang, window=forecast.window_days, closed=forecast.closed_in_window))}</p>
</body></html>
"""  # noqa: E501


def post_summary(session: Session, *, actor: Actor, summary: WeeklySummary) -> int:
    """Tell every active leadership user (inbox, and their or their team's group bot) that the week's
    summary is out, with its headline figures; returns how many were told."""
    require(actor, "forecast.read")
    by_key = {k.key: k.value for k in summary.kpis}
    loss = summary.loss
    params = {
        "week": summary.week,
        "new_leads": f"{int(by_key.get('new_leads') or 0):,}",
        "won": f"{int(by_key.get('won') or 0):,}",
        "won_amount": f"¥{float(by_key.get('won_amount') or 0):,.0f}",
        "weighted": f"¥{summary.forecast.weighted:,.0f}",
        **{
            f"loss_at_{lang}": get_pipeline().name(loss.at_stage, lang) if loss else "—" for lang in LANGUAGES
        },
    }
    leaders = session.scalars(select(User.id).where(User.role == "leader", User.is_active)).all()
    for user_id in leaders:
        notify(session, user_id=user_id, kind="weekly_summary", params=params)
    return len(leaders)

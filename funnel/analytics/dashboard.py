"""Every figure of the dashboard for one filter, its independent queries run at once.

A filter change redraws the whole dashboard: the KPI tiles, the funnel report, the lost reasons, the
qualification and the surveys are some twenty queries over the same customers, and none needs another's
answer. Run one after another they add up; here they run on a few connections at once
(funnel.core.db.read_concurrently), split into jobs of similar size, and are put together as each
function called on its own would return them. The pages cache the result per filter
(pages/_shared/common.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.kpis import Kpi, Window, kpi_filter, periods_of, tiles, window_counts, window_figures
from funnel.analytics.reasons import ReasonCount, lost_by_reason_from, qualification_counts
from funnel.analytics.report import FunnelReport, assemble_report
from funnel.analytics.rollups import entity_totals, loss_details, readers_filter, stage_rollup
from funnel.closing.surveys import SurveySummary, survey_summary
from funnel.core.db import read_concurrently, session_scope
from funnel.pipeline.stages import get_pipeline

SPLIT = "channel"  # the dashboard's funnel is split by channel


@dataclass(frozen=True)
class DashboardFigures:
    tiles: list[Kpi]
    report: FunnelReport  # split by channel
    lost_reasons: list[ReasonCount]
    budget_bands: list[ReasonCount]
    competitors: list[ReasonCount]
    surveys: SurveySummary


def dashboard_figures(
    engine: Engine, *, actor: Actor, filters: CustomerFilter, today: date
) -> DashboardFigures:
    """kpi_tiles, build_report by channel, lost_by_reason, open_by_budget_band, competitor_mentions and
    survey_summary for the customers `filters` selects, as `actor` may read them (lost_by_reason from
    the report's loss details, the qualification's two in one pass)."""
    pipeline = get_pipeline()
    with session_scope(engine) as session:
        scoped = readers_filter(session, actor, filters)  # the reader's scope, looked up once
        tile_filter = kpi_filter(session, actor, filters)
    periods = periods_of(filters.since, filters.until, today=today)
    jobs = {
        # The longer ones first, so that the short ones fill in beside them.
        "rollup": lambda s: stage_rollup(s, by=SPLIT, filters=scoped, pipeline=pipeline),
        "details": lambda s: loss_details(s, by=SPLIT, filters=scoped),
        "counts": lambda s: window_counts(s, tile_filter, periods),
        **{f"window{i}": _window_job(tile_filter, window) for i, window in enumerate(periods)},
        "entities": lambda s: entity_totals(s, scoped),
        "qualification": lambda s: qualification_counts(s, actor=actor, customer_filter=filters),
        "surveys": lambda s: survey_summary(s, actor=actor, customer_filter=filters),
    }
    found = read_concurrently(engine, jobs)
    budget_bands, competitors = found["qualification"]
    with session_scope(engine) as session:
        lost_reasons = lost_by_reason_from(session, found["details"])  # the report counted them
    return DashboardFigures(
        tiles=tiles(found["counts"], [found[f"window{i}"] for i in range(len(periods))]),
        report=assemble_report(
            pipeline,
            by=SPLIT,
            rollup=found["rollup"],
            segment_details=found["details"],
            entities=found["entities"],
        ),
        lost_reasons=lost_reasons,
        budget_bands=budget_bands,
        competitors=competitors,
        surveys=found["surveys"],
    )


def _window_job(tile_filter: CustomerFilter, window: Window) -> Callable[[Session], dict[str, float | None]]:
    return lambda s: window_figures(s, tile_filter, window)  # binds this window, not the loop's last

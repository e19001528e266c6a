"""Every figure of the dashboard for one filter, its independent queries run at once.

A filter change redraws the whole dashboard: the KPI tiles, the funnel report, the loss points, the lost
reasons, the qualification and the surveys are some twenty queries over the same customers, and few
need another's answer. Run one after another they add up; here they run on a few connections at once
(funnel.core.db.ConcurrentReads), split into jobs of similar size, and are put together as each
function called on its own would return them. The loss points' queries start as soon as the funnel
roll-up says which stages they are, while the rest still runs. The pages cache the result per filter
(pages/_shared/common.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

import pandas as pd
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.funnel_math import funnel_segment
from funnel.analytics.kpis import Kpi, Window, kpi_filter, periods_of, tiles, window_counts, window_figures
from funnel.analytics.reasons import ReasonCount, lost_by_reason_from, qualification_counts
from funnel.analytics.report import FunnelReport, assemble_report
from funnel.analytics.rollups import (
    entity_totals,
    loss_details,
    lost_reasons_at,
    objections_at,
    readers_filter,
    stage_rollup,
    stuck_at,
)
from funnel.closing.surveys import SurveySummary, survey_summary
from funnel.core.db import ConcurrentReads, session_scope
from funnel.pipeline.stages import get_pipeline

SPLIT = "channel"  # the dashboard's funnel is split by channel


class LossDetail(NamedTuple):
    """What is recorded at a loss point's stage (funnel.analytics.rollups: lost_reasons_at,
    objections_at, stuck_at)."""

    reasons: pd.DataFrame
    objections: pd.DataFrame
    stuck: pd.DataFrame


@dataclass(frozen=True)
class DashboardFigures:
    tiles: list[Kpi]
    report: FunnelReport  # split by channel
    loss_points: dict[str, LossDetail]  # by the stage before each lowest step (the report's lowest_steps)
    lost_reasons: list[ReasonCount]
    budget_bands: list[ReasonCount]
    competitors: list[ReasonCount]
    surveys: SurveySummary


def dashboard_figures(
    engine: Engine, *, actor: Actor, filters: CustomerFilter, today: date, now: datetime
) -> DashboardFigures:
    """kpi_tiles, build_report by channel, the loss points' details, lost_by_reason, open_by_budget_band,
    competitor_mentions and survey_summary for the customers `filters` selects, as `actor` may read them
    (lost_by_reason from the report's loss details, the qualification's two in one pass). `now` (naive
    UTC) is when the stuck customers' days are counted to."""
    pipeline = get_pipeline()
    with session_scope(engine) as session:
        scoped = readers_filter(session, actor, filters)  # the reader's scope, looked up once
        tile_filter = kpi_filter(session, actor=actor, filters=filters)
    periods = periods_of(filters.since, filters.until, today=today)
    with ConcurrentReads(engine) as reads:
        # The longer ones first, so that the short ones fill in beside them.
        rollup = reads.submit(lambda s: stage_rollup(s, by=SPLIT, filters=scoped, pipeline=pipeline))
        details = reads.submit(lambda s: loss_details(s, by=SPLIT, filters=scoped))
        counts = reads.submit(lambda s: window_counts(s, tile_filter, periods))
        windows = [reads.submit(_window_job(tile_filter, window)) for window in periods]
        entities = reads.submit(lambda s: entity_totals(s, scoped))
        qualification = reads.submit(lambda s: qualification_counts(s, actor=actor, customer_filter=filters))
        surveys = reads.submit(lambda s: survey_summary(s, actor=actor, customer_filter=filters))
        overall = funnel_segment(rollup.result(), pipeline.funnel_keys)
        loss_stages = [overall.stages[overall.stages.index(to) - 1] for to in overall.lowest_steps()]
        losses = {stage: reads.submit(_loss_job(actor, filters, stage, now)) for stage in loss_stages}
    budget_bands, competitors = qualification.result()
    with session_scope(engine) as session:
        lost_reasons = lost_by_reason_from(session, details.result())  # the report counted them
    return DashboardFigures(
        tiles=tiles(counts.result(), [window.result() for window in windows]),
        report=assemble_report(
            pipeline,
            by=SPLIT,
            rollup=rollup.result(),
            segment_details=details.result(),
            entities=entities.result(),
        ),
        loss_points={stage: loss.result() for stage, loss in losses.items()},
        lost_reasons=lost_reasons,
        budget_bands=budget_bands,
        competitors=competitors,
        surveys=surveys.result(),
    )


def _window_job(tile_filter: CustomerFilter, window: Window) -> Callable[[Session], dict[str, float | None]]:
    return lambda s: window_figures(s, tile_filter, window)  # binds this window, not the loop's last


def _loss_job(
    actor: Actor, filters: CustomerFilter, stage: str, now: datetime
) -> Callable[[Session], LossDetail]:
    def job(s: Session) -> LossDetail:
        return LossDetail(
            lost_reasons_at(s, actor=actor, stage=stage, filters=filters),
            objections_at(s, actor=actor, stage=stage, filters=filters),
            stuck_at(s, actor=actor, stage=stage, now=now, filters=filters),
        )

    return job

"""The funnel report: overall and per-segment funnels as plain data, for the CLI, the API and pages."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.funnel_math import FunnelSegment, funnel_segment, funnel_segments
from funnel.analytics.rollups import entity_totals, loss_details, readers_filter, stage_rollup
from funnel.pipeline.stages import Pipeline, get_pipeline


@dataclass(frozen=True)
class FunnelReport:
    stages: list[str]
    overall: FunnelSegment
    segments: list[FunnelSegment]
    details: pd.DataFrame
    segment_details: pd.DataFrame
    # The data factory's join for the same customers: customer -> opportunity -> signed contract -> payment.
    entities: dict[str, float | int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """The JSON document of `report --format json`."""
        return {
            "stages": self.stages,
            "overall": self.overall.as_dict(self.details),
            "segments": [s.as_dict(self.segment_details) for s in self.segments],
            "entities": self.entities,
        }


def build_report(
    session: Session,
    *,
    actor: Actor,
    by: str | None = None,
    filters: CustomerFilter | None = None,
    pipeline: Pipeline | None = None,
) -> FunnelReport:
    """Overall funnel plus one funnel per value of `by` (none without `by`)."""
    pipeline = pipeline or get_pipeline()
    filters = readers_filter(session, actor, filters)
    # A split puts every customer in exactly one segment, so the overall funnel is the sum of the
    # segments' rows: one pass over the data instead of two (benchmarks/README.md).
    return assemble_report(
        pipeline,
        by=by,
        rollup=stage_rollup(session, by=by, filters=filters, pipeline=pipeline),
        segment_details=loss_details(session, by=by, filters=filters),
        entities=entity_totals(session, filters),
    )


def assemble_report(
    pipeline: Pipeline,
    *,
    by: str | None,
    rollup: pd.DataFrame,
    segment_details: pd.DataFrame,
    entities: dict[str, float | int],
) -> FunnelReport:
    """The report from its three queries (stage_rollup, loss_details, entity_totals over a reader's filter),
    for a caller that runs them apart (funnel.analytics.dashboard runs them at once)."""
    stages = pipeline.funnel_keys
    return FunnelReport(
        stages=stages,
        overall=funnel_segment(rollup, stages),
        segments=funnel_segments(rollup, stages) if by else [],
        details=segment_details.assign(segment=None),
        segment_details=segment_details,
        entities=entities,
    )


def report_table(report: FunnelReport, *, lang: str = "en", pipeline: Pipeline | None = None) -> pd.DataFrame:
    """One row per (segment, stage): reached, current, step and overall conversion, drop-off."""
    pipeline = pipeline or get_pipeline()
    rows = []
    for segment in [report.overall, *report.segments]:
        label = "(all)" if segment is report.overall else (segment.value or "(none)")
        step, overall, drop = segment.step_conversion, segment.overall_conversion, segment.drop_off
        for stage in report.stages:
            rows.append(
                {
                    "segment": label,
                    "stage": stage,
                    "stage_name": pipeline.name(stage, lang),
                    "reached": segment.reached[stage],
                    "current": segment.current[stage],
                    "step_conversion": step[stage],
                    "overall_conversion": overall[stage],
                    "drop_off": drop[stage],
                }
            )
    return pd.DataFrame(rows)

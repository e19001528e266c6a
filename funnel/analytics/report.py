"""The funnel report: overall and per-segment funnels as plain data, for the CLI, the API and pages."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.funnel_math import FunnelSegment, funnel_segment, funnel_segments
from funnel.analytics.rollups import _scoped, loss_details, readers_filter, stage_rollup
from funnel.closing.merged import per_customer
from funnel.pipeline.stages import Pipeline, get_pipeline
from funnel.store.models import Customer


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


def entity_totals(session: Session, filters: CustomerFilter) -> dict[str, float | int]:
    """Customers, how many have an opportunity / a signed contract / a payment, and the amounts (in SQL)."""
    opportunities, contracts, payments = per_customer()
    stmt = (
        select(
            func.count().label("customers"),
            func.sum(case((opportunities.c.n.is_not(None), 1), else_=0)),
            func.sum(case((contracts.c.n.is_not(None), 1), else_=0)),
            func.sum(case((payments.c.amount.is_not(None), 1), else_=0)),
            func.coalesce(func.sum(opportunities.c.amount), 0),
            func.coalesce(func.sum(contracts.c.amount), 0),
            func.coalesce(func.sum(payments.c.amount), 0),
        )
        .select_from(Customer)
        .outerjoin(opportunities, opportunities.c.customer_id == Customer.id)
        .outerjoin(contracts, contracts.c.customer_id == Customer.id)
        .outerjoin(payments, payments.c.customer_id == Customer.id)
    )
    row = session.execute(_scoped(stmt, filters)).one()
    counts = [int(value or 0) for value in row[:4]]
    amounts = [round(float(value or 0), 2) for value in row[4:]]
    names = ("customers", "with_opportunity", "with_contract", "with_payment")
    return {
        **dict(zip(names, counts, strict=True)),
        **dict(zip(("opportunity_amount", "contract_amount", "paid_amount"), amounts, strict=True)),
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
    stages = pipeline.funnel_keys
    # A split puts every customer in exactly one segment, so the overall funnel is the sum of the
    # segments' rows: one pass over the data instead of two (benchmarks/README.md).
    rollup = stage_rollup(session, by=by, filters=filters, pipeline=pipeline)
    segment_details = loss_details(session, by=by, filters=filters)
    details = segment_details.assign(segment=None)
    return FunnelReport(
        stages=stages,
        overall=funnel_segment(rollup, stages),
        segments=funnel_segments(rollup, stages) if by else [],
        details=details,
        segment_details=segment_details,
        entities=entity_totals(session, filters),
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

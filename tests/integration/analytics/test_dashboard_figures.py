"""The dashboard's figures, their queries run at once, equal each analytics function called on its own:
for filters by attribute, by creation and by activity period, for a manager and a rep, on each backend."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from funnel.access.permissions import SYSTEM, Actor
from funnel.analytics.dashboard import dashboard_figures
from funnel.analytics.filters import ACTIVE, CREATED, CustomerFilter
from funnel.analytics.kpis import kpi_tiles
from funnel.analytics.reasons import competitor_mentions, lost_by_reason, open_by_budget_band
from funnel.analytics.report import build_report
from funnel.analytics.rollups import drill_customers, lost_reasons_at, objections_at, stuck_at
from funnel.closing.surveys import survey_summary
from funnel.core.db import ConcurrentReads, session_scope
from funnel.demo.generate import generate_demo
from funnel.store.models import User

TODAY = date(2026, 6, 1)
NOW = datetime(2026, 6, 1, 9)
SINCE = TODAY - timedelta(days=89)
FILTERS = {
    "everyone": CustomerFilter(),
    "one channel": CustomerFilter(values={"channel": ("展会",)}),
    "90 days by creation": CustomerFilter(since=SINCE, until=TODAY, basis=CREATED),
    "90 days by activity": CustomerFilter(since=SINCE, until=TODAY, basis=ACTIVE),
    "a month that ended, by activity": CustomerFilter(
        since=date(2026, 3, 1), until=date(2026, 3, 31), basis=ACTIVE
    ),
    "grade and tag": CustomerFilter(values={"grade": ("A", "B"), "tag": ("高意向",)}),
}


@pytest.fixture
def demo(engine):
    generate_demo(engine, leads=400, seed=3, anchor=TODAY, actor=SYSTEM)
    return engine


@pytest.mark.parametrize("name", FILTERS)
def test_the_figures_equal_each_function_on_its_own(demo, name):
    filters = FILTERS[name]
    with session_scope(demo) as session:
        rep = Actor.of(session.scalars(select(User).where(User.role == "rep").order_by(User.id)).first())
    for actor in (SYSTEM, rep):
        figures = dashboard_figures(demo, actor=actor, filters=filters, today=TODAY, now=NOW)
        with session_scope(demo) as s:
            report = build_report(s, actor=actor, by="channel", filters=filters)
            assert figures.tiles == kpi_tiles(
                s, actor=actor, since=filters.since, until=filters.until, today=TODAY, filters=filters
            )
            assert figures.lost_reasons == lost_by_reason(s, actor=actor, customer_filter=filters)
            assert figures.budget_bands == open_by_budget_band(s, actor=actor, customer_filter=filters)
            assert figures.competitors == competitor_mentions(s, actor=actor, customer_filter=filters)
            assert figures.surveys == survey_summary(s, actor=actor, customer_filter=filters)
        assert figures.report.as_dict() == report.as_dict()
        assert figures.report.entities == report.entities
        assert figures.report.details.equals(report.details)
        loss_stages = [report.stages[report.stages.index(to) - 1] for to in report.overall.lowest_steps()]
        assert list(figures.loss_points) == loss_stages
        with session_scope(demo) as s:
            for stage, (reasons, objections, stuck) in figures.loss_points.items():
                assert reasons.equals(lost_reasons_at(s, actor=actor, stage=stage, filters=filters))
                assert objections.equals(objections_at(s, actor=actor, stage=stage, filters=filters))
                assert stuck.equals(stuck_at(s, actor=actor, stage=stage, now=NOW, filters=filters))
    assert figures.report.overall.total > 0 or name == "grade and tag"


def test_jobs_run_apart_and_an_error_is_raised_by_its_result(engine):
    with ConcurrentReads(engine) as reads:
        first = reads.submit(lambda s: s.scalar(select(3)))
        then = reads.submit(lambda s: first.result() + 1)
    assert then.result() == 4

    def broken(_s):
        raise ValueError("job failed")

    with ConcurrentReads(engine) as reads:
        ok, failed = reads.submit(lambda s: 1), reads.submit(broken)
    assert ok.result() == 1
    with pytest.raises(ValueError, match="job failed"):
        failed.result()


@pytest.mark.parametrize("name", ["everyone", "90 days by activity", "grade and tag"])
def test_the_reports_figures_are_the_drills_counts(demo, name):
    """The dashboard takes a drill's count from the report instead of counting again: they must agree."""
    filters = FILTERS[name]
    with session_scope(demo) as s:
        overall = build_report(s, actor=SYSTEM, by="channel", filters=filters).overall
        picks = [{"reached": stage} for stage in overall.stages]
        picks += [{"current": stage} for stage in overall.stages]
        picks += [{"status": status} for status in ("open", "won", "lost")]
        for pick in picks:
            args = {"reached": None, "current": None, "status": None, **pick}
            known = overall.drill_total(**args)
            _, counted = drill_customers(s, actor=SYSTEM, filters=filters, **args)
            assert known in (counted, None), pick
            assert known is not None or pick == {"current": "won"}, pick

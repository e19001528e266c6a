"""Properties of the funnel math over random roll-ups (hypothesis): whatever the mix of open, won and lost
customers at whatever furthest stages, in whatever segments, the semantics of ARCHITECTURE.md hold."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funnel.analytics.funnel_math import funnel_segment, funnel_segments
from tests.factories import rollup

STAGES = ("lead", "contact", "qualify", "proposal", "closing", "won")
WON_RANK = STAGES.index("won")


@st.composite
def rollup_rows(draw: st.DrawFn) -> list[tuple[str | None, str, str, int, int, float]]:
    """Roll-up rows as the store groups them: a won customer reached `won`; open and lost ones stop earlier."""
    rows = []
    for _ in range(draw(st.integers(min_value=0, max_value=25))):
        segment = draw(st.sampled_from(["展会", "官网", "referral", None]))
        status = draw(st.sampled_from(["open", "won", "lost"]))
        rank = WON_RANK if status == "won" else draw(st.integers(min_value=0, max_value=WON_RANK - 1))
        stage = STAGES[min(rank, WON_RANK - 1)]
        customers = draw(st.integers(min_value=1, max_value=500))
        amount = float(customers * 1000) if status == "won" else 0.0
        rows.append((segment, status, stage, rank, customers, amount))
    return rows


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(rollup_rows())
def test_reached_counts_never_rise_along_the_pipeline(rows: list) -> None:
    segment = funnel_segment(rollup(rows), STAGES)
    counts = [segment.reached[stage] for stage in STAGES]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] == segment.total and counts[-1] == segment.won
    assert all(drop >= 0 for drop in segment.drop_off.values())


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(rollup_rows())
def test_every_rate_lies_between_zero_and_one(rows: list) -> None:
    segment = funnel_segment(rollup(rows), STAGES)
    rates = [*segment.step_conversion.values(), *segment.overall_conversion.values(), segment.win_rate]
    assert all(rate is None or 0.0 <= rate <= 1.0 for rate in rates)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(rollup_rows())
def test_segment_totals_add_up_to_the_whole(rows: list) -> None:
    frame = rollup(rows)
    whole = funnel_segment(frame, STAGES)
    parts = funnel_segments(frame, STAGES)
    for name in ("total", "open", "won", "lost"):
        assert sum(getattr(part, name) for part in parts) == getattr(whole, name)
    assert sum(part.won_amount for part in parts) == whole.won_amount
    for stage in STAGES:
        assert sum(part.reached[stage] for part in parts) == whole.reached[stage]
    assert whole.open + whole.won + whole.lost == whole.total

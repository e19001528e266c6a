"""Wilson intervals and the per-segment step matrix: small samples are flagged, rates stay in [0, 1]."""

from __future__ import annotations

import pandas as pd
import pytest

from funnel.analytics.funnel_math import funnel_segment, step_matrix, wilson_interval
from tests.factories import seed_rollup

STAGES = ("lead", "contact", "qualify", "proposal", "closing", "won")


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        (3, 5, 0.2307, 0.8824),  # "3 of 5": anything from a quarter to nine in ten
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (50, 100, 0.4038, 0.5962),
        (500, 1000, 0.4691, 0.5309),  # ten times the sample, a third of the width
    ],
)
def test_wilson_interval_matches_published_values(
    successes: int, trials: int, low: float, high: float
) -> None:
    assert wilson_interval(successes, trials) == pytest.approx((low, high), abs=1e-4)


def test_wilson_interval_without_trials_is_none_and_impossible_counts_are_refused() -> None:
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError, match="between 0 and trials"):
        wilson_interval(6, 5)


def test_step_matrix_gives_each_segments_steps_with_sample_and_interval() -> None:
    seed = funnel_segment(seed_rollup([1000, 200, 100, 20, 10, 0], list(STAGES)), STAGES, "官网")
    tiny = funnel_segment(seed_rollup([5, 3, 0, 0, 0, 0], list(STAGES)), STAGES, "展会")
    matrix = step_matrix([seed, tiny], min_sample=30)
    assert list(matrix["stage"][:5]) == list(STAGES[1:])
    first = matrix.iloc[0]
    assert (first["segment"], first["trials"], first["reached"], first["step_conversion"]) == (
        "官网",
        1000,
        200,
        0.2,
    )
    assert first["low"] < 0.2 < first["high"] and not first["small"]
    small = matrix[(matrix["segment"] == "展会") & (matrix["stage"] == "contact")].iloc[0]
    assert (small["trials"], small["reached"], bool(small["small"])) == (5, 3, True)
    assert small["high"] - small["low"] > 0.6  # 3 of 5 says little
    empty = matrix[(matrix["segment"] == "展会") & (matrix["stage"] == "proposal")].iloc[0]
    assert empty["trials"] == 0 and pd.isna(empty["step_conversion"]) and pd.isna(empty["low"])

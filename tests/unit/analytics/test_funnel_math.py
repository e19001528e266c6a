"""The funnel semantics of ARCHITECTURE.md, pinned table by table."""

from __future__ import annotations

import pytest

from funnel.analytics.funnel_math import funnel_segment, funnel_segments, ratio
from tests.factories import rollup, seed_rollup

STAGES = ("lead", "contact", "qualify", "proposal", "closing", "won")


def test_seed_example_gives_20_50_20_50_percent_step_conversion():
    segment = funnel_segment(seed_rollup([1000, 200, 100, 20, 10], STAGES), STAGES)

    assert segment.reached == {
        "lead": 1000,
        "contact": 200,
        "qualify": 100,
        "proposal": 20,
        "closing": 10,
        "won": 0,
    }
    assert segment.step_conversion == {
        "lead": None, "contact": 0.2, "qualify": 0.5, "proposal": 0.2, "closing": 0.5, "won": 0.0,
    }  # fmt: skip
    assert segment.overall_conversion["closing"] == pytest.approx(0.01)
    assert segment.drop_off == {
        "lead": 0,
        "contact": 800,
        "qualify": 100,
        "proposal": 80,
        "closing": 10,
        "won": 10,
    }


@pytest.mark.parametrize(
    ("rows", "expected_reached"),
    [
        # a lead that jumped from lead straight to proposal has passed contact and qualify
        ([(None, "open", "proposal", 3, 1, 0.0)], [1, 1, 1, 1, 0, 0]),
        # a won customer has reached every stage and won, whatever its history says
        ([(None, "won", "won", 5, 1, 100.0)], [1, 1, 1, 1, 1, 1]),
        # a customer moved back to contact after qualifying still counts as having qualified
        ([(None, "open", "contact", 2, 1, 0.0)], [1, 1, 1, 0, 0, 0]),
    ],
    ids=["skipped-stages-count-as-passed", "won-reaches-everything", "moved-back-keeps-furthest"],
)
def test_reached_counts_come_from_the_furthest_stage(rows, expected_reached):
    segment = funnel_segment(rollup(rows), STAGES)

    assert list(segment.reached.values()) == expected_reached


@pytest.mark.parametrize("lost_after", range(5))
def test_a_lost_customer_reaches_the_stages_up_to_its_loss(lost_after):
    stage = STAGES[lost_after]
    segment = funnel_segment(rollup([(None, "lost", stage, lost_after, 1, 0.0)]), STAGES)

    assert [segment.reached[s] for s in STAGES] == [1] * (lost_after + 1) + [0] * (5 - lost_after)
    assert segment.lost == 1
    assert segment.win_rate == 0.0
    assert segment.current[stage] == 0  # a lost customer is not counted as currently in a stage


def test_empty_data_gives_zero_counts_and_no_rates():
    segment = funnel_segment(rollup([]), STAGES)

    assert segment.total == 0
    assert set(segment.reached.values()) == {0}
    assert set(segment.step_conversion.values()) == {None}
    assert set(segment.overall_conversion.values()) == {None}
    assert segment.win_rate is None
    assert segment.loss_point() is None


def test_an_empty_stage_makes_the_next_step_undefined_not_a_division_error():
    segment = funnel_segment(rollup([(None, "open", "contact", 1, 5, 0.0)]), STAGES)

    assert segment.step_conversion["qualify"] == 0.0
    assert segment.step_conversion["proposal"] is None  # 0 / 0
    assert segment.drop_off["proposal"] == 0


@pytest.mark.parametrize(
    ("won", "lost", "expected"),
    [(0, 0, None), (1, 0, 1.0), (1, 3, 0.25), (0, 4, 0.0)],
)
def test_win_rate_is_won_over_closed(won, lost, expected):
    rows = [(None, "won", "won", 5, won, 10.0 * won), (None, "lost", "qualify", 2, lost, 0.0)]
    segment = funnel_segment(rollup([r for r in rows if r[4]]), STAGES)

    assert segment.win_rate == expected


def test_won_amount_sums_only_won_customers():
    rows = [(None, "won", "won", 5, 2, 300.0), (None, "open", "closing", 4, 1, 0.0)]

    assert funnel_segment(rollup(rows), STAGES).won_amount == 300.0


def test_the_loss_point_is_the_lowest_step_conversion_earliest_on_ties():
    loss = funnel_segment(seed_rollup([1000, 200, 100, 20, 10], STAGES), STAGES).loss_point()

    assert loss is not None
    assert (loss.at_stage, loss.to_stage, loss.step_conversion, loss.drop_off) == (
        "lead",
        "contact",
        0.2,
        800,
    )


def test_segments_are_split_by_value_largest_first_with_none_last():
    rows = [
        ("官网", "open", "lead", 0, 2, 0.0),
        (None, "open", "lead", 0, 5, 0.0),
        ("展会", "won", "won", 5, 3, 9.0),
    ]

    segments = funnel_segments(rollup(rows), STAGES)

    assert [(s.value, s.total) for s in segments] == [("展会", 3), ("官网", 2), (None, 5)]


@pytest.mark.parametrize(("num", "den", "expected"), [(1, 2, 0.5), (0, 5, 0.0), (3, 0, None), (0, 0, None)])
def test_ratio_never_divides_by_zero(num, den, expected):
    assert ratio(num, den) == expected

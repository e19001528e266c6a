"""The objection review's shaping functions over a small fixture of counts."""

from __future__ import annotations

import pandas as pd

from funnel.closing.objections import before_outcomes, by_category_stage, resolved_share

COUNTS = pd.DataFrame(
    [
        ("price", "proposal", "resolved", "won", 3),
        ("price", "closing", "open", "lost", 2),
        ("price", "closing", "resolved", "open", 1),
        ("competitor", "qualify", "open", "lost", 1),
        ("delivery", "proposal", "resolved", "won", 1),
    ],
    columns=["category", "stage", "status", "outcome", "count"],
)
STAGES = ["lead", "contact", "qualify", "proposal", "closing"]


def test_category_by_stage_counts_in_pipeline_order() -> None:
    table = by_category_stage(COUNTS, STAGES)
    assert list(table.columns) == ["qualify", "proposal", "closing"]
    assert table.loc["price"].tolist() == [0, 3, 3]
    assert table.loc["competitor"].tolist() == [1, 0, 0]


def test_share_resolved_per_category() -> None:
    table = resolved_share(COUNTS)
    assert table.loc["price", ["objections", "resolved"]].tolist() == [6, 4]
    assert round(table.loc["price", "share_resolved"], 3) == 0.667
    assert table.loc["competitor", "share_resolved"] == 0


def test_categories_before_losses_and_wins_carry_their_counts() -> None:
    table = before_outcomes(COUNTS)
    assert table.loc["price", ["won", "lost", "open", "closed"]].tolist() == [3, 2, 1, 5]
    assert table.loc["price", "share_lost"] == 0.4
    assert table.loc["competitor", "closed"] == 1 and table.loc["competitor", "share_lost"] == 1.0
    assert table.index[0] == "price"  # the most closed first: small numbers sort below

"""A deal's forecast category: by its P(win) against the thresholds, unless a rep made a call."""

from __future__ import annotations

import pandas as pd
import pytest

from funnel.analytics.forecast import category_of, deal_categories


@pytest.mark.parametrize(
    ("p_win", "expected"),
    [(0.0, "pipeline"), (0.39, "pipeline"), (0.4, "best_case"), (0.699, "best_case"), (0.7, "commit"),
     (1.0, "commit")],
)  # fmt: skip
def test_a_deal_is_in_the_category_its_p_win_reaches(p_win: float, expected: str) -> None:
    assert category_of(p_win, commit_percent=70, best_case_percent=40) == expected


def test_every_deal_at_once_equals_each_deal_alone_and_a_call_wins() -> None:
    p_wins = [i / 100 for i in range(101)] + [0.58, 0.29, 0.7000001]
    deals = pd.DataFrame({"p_win": p_wins, "call": [None] * (len(p_wins) - 1) + ["omitted"]})
    got = deal_categories(deals, commit_percent=70, best_case_percent=40)
    alone = [category_of(p, commit_percent=70, best_case_percent=40) for p in p_wins]
    assert list(got) == [*alone[:-1], "omitted"]
    assert list(deal_categories(deals.drop(columns="call"), commit_percent=70, best_case_percent=40)) == alone

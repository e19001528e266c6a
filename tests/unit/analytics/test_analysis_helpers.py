"""Pure helpers of the conversion analysis: percentiles from ranked rows, cohort labels, the heatmap."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from funnel.analytics.charts import SMALL_COLOR, segment_heatmap
from funnel.analytics.cohorts import cohort_label, period_end
from funnel.analytics.funnel_math import FunnelSegment, step_matrix
from funnel.analytics.segments import SegmentConversion, heatmap_frame
from funnel.analytics.velocity import PERCENTILES, percentile


@pytest.mark.parametrize(
    "values",
    [[5.0], [1.0, 2.0], [1.0, 2.0, 4.0], [3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.3], list(np.linspace(0, 40, 101))],
)
@pytest.mark.parametrize("p", PERCENTILES)
def test_percentile_from_ranked_values_is_numpys_linear_percentile(values, p):
    ordered = sorted(values)
    ranks = {i + 1: v for i, v in enumerate(ordered)}

    assert percentile(ranks, len(ordered), p) == pytest.approx(float(np.percentile(ordered, p)))


@pytest.mark.parametrize(
    ("start", "period", "label", "end"),
    [
        (date(2026, 1, 5), "week", "2026-W02", date(2026, 1, 11)),
        (date(2025, 12, 29), "week", "2026-W01", date(2026, 1, 4)),  # ISO week of the next year
        (date(2026, 2, 1), "month", "2026-02", date(2026, 2, 28)),
        (date(2026, 12, 1), "month", "2026-12", date(2026, 12, 31)),
    ],
)
def test_cohort_labels_and_ends(start, period, label, end):
    assert (cohort_label(start, period), period_end(start, period)) == (label, end)


def test_the_heatmap_greys_small_cells_and_selects_a_cell():
    stages = ("lead", "contact", "won")
    segments = [
        FunnelSegment("官网", stages, 40, 0, 0, 0, 0.0, {"lead": 40, "contact": 10, "won": 2}, {}),
        FunnelSegment(None, stages, 3, 0, 0, 0, 0.0, {"lead": 3, "contact": 0, "won": 0}, {}),
    ]
    matrix = step_matrix(segments, min_sample=20)
    result = SegmentConversion("channel", list(stages), segments, matrix, 20)
    frame = heatmap_frame(result, none_label="(none)").assign(stage_name=lambda f: f["stage"])

    spec = segment_heatmap(frame, "en", stage_order=["contact", "won"]).to_dict()

    rect = spec["layer"][0]
    assert rect["encoding"]["color"]["condition"]["value"] == SMALL_COLOR
    assert "datum.small" in rect["encoding"]["color"]["condition"]["test"]
    assert [p["name"] for p in spec.get("params", rect.get("params", []))] == ["cell"]
    data = pd.DataFrame(next(iter(spec["datasets"].values())))
    assert set(data["segment"]) == {"官网", "(none)"}
    assert data.loc[data["segment"] == "官网", "small"].tolist() == [False, True]  # 40 trials, then 10
    assert json.dumps(spec, ensure_ascii=False).count("n=40") == 1

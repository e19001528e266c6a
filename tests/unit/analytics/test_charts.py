"""Chart builders: stages in pipeline order, the loss point highlighted, labels with the conversions."""

from dataclasses import replace

import pandas as pd
import pytest

from funnel.analytics.charts import LOSS_COLOR, channel_chart, channel_frame, funnel_chart
from funnel.analytics.funnel_math import funnel_segment, funnel_segments
from funnel.analytics.report import FunnelReport, report_table
from funnel.pipeline.stages import get_pipeline
from tests.factories import rollup, seed_rollup

SEED = [1000, 200, 100, 20, 10, 0]


def seed_table(lang: str = "en") -> pd.DataFrame:
    stages = get_pipeline().funnel_keys
    overall = funnel_segment(seed_rollup(SEED, stages), stages)
    report = FunnelReport(stages, overall, [], pd.DataFrame(), pd.DataFrame())
    return report_table(report, lang=lang)


def chart_rows(spec: dict) -> list[dict]:
    """The rows a chart draws (Altair moves inline data to the top-level `datasets`)."""
    (rows,) = spec["datasets"].values()
    return rows


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_funnel_chart_sorts_stages_in_pipeline_order_not_alphabetically(lang: str) -> None:
    spec = funnel_chart(seed_table(lang), lang).to_dict()
    names = [get_pipeline().name(key, lang) for key in get_pipeline().funnel_keys]
    assert names != sorted(names)
    for layer in spec["layer"]:
        assert layer["encoding"]["y"]["sort"] == names


def test_funnel_chart_keeps_pipeline_order_when_the_table_rows_are_shuffled() -> None:
    table = seed_table()
    shuffled = table.iloc[[3, 0, 5, 1, 4, 2]]
    spec = funnel_chart(shuffled, "en").to_dict()
    assert spec["layer"][0]["encoding"]["y"]["sort"] == table["stage_name"].tolist()
    assert [row["stage"] for row in chart_rows(spec)] == get_pipeline().funnel_keys


def test_funnel_chart_highlights_only_the_loss_stage() -> None:
    spec = funnel_chart(seed_table(), "en", loss_stage="contact").to_dict()
    flagged = [row["stage"] for row in chart_rows(spec) if row["is_loss"]]
    assert flagged == ["contact"]
    color = spec["layer"][0]["encoding"]["color"]
    assert color["condition"]["value"] == LOSS_COLOR
    assert color["condition"]["test"] == "datum.is_loss"
    assert color["value"] != LOSS_COLOR


def test_funnel_chart_without_a_loss_point_highlights_nothing() -> None:
    spec = funnel_chart(seed_table(), "en").to_dict()
    assert not any(row["is_loss"] for row in chart_rows(spec))


def test_funnel_chart_labels_show_count_step_overall_conversion_and_drop_off() -> None:
    labels = [row["label"] for row in chart_rows(funnel_chart(seed_table(), "en").to_dict())]
    assert labels[:5] == [
        "1,000",
        "200 · step 20% · overall 20% · −800",
        "100 · step 50% · overall 10% · −100",
        "20 · step 20% · overall 2% · −80",
        "10 · step 50% · overall 1% · −10",
    ]


def test_funnel_chart_labels_are_translated() -> None:
    labels = [row["label"] for row in chart_rows(funnel_chart(seed_table("zh"), "zh").to_dict())]
    assert labels[1] == "200 · 环比 20% · 总转化 20% · 流失 800"


def test_funnel_chart_of_an_empty_funnel_does_not_fail() -> None:
    table = seed_table().assign(reached=0, step_conversion=None, overall_conversion=None, drop_off=0)
    assert funnel_chart(table, "en").to_dict()["layer"]


def test_channel_frame_and_chart_rank_channels_by_conversion_to_won() -> None:
    stages = get_pipeline().funnel_keys
    won_rank = len(stages) - 1
    frame = rollup(
        [
            ("官网", "open", "lead", 0, 8, 0.0),
            ("官网", "won", "won", won_rank, 2, 100.0),
            ("转介绍", "won", "won", won_rank, 3, 300.0),
            ("转介绍", "lost", "closing", won_rank - 1, 1, 0.0),
        ]
    )
    table = channel_frame(funnel_segments(frame, stages))
    assert table.set_index("channel")["conversion_to_won"].to_dict() == {"官网": 0.2, "转介绍": 0.75}
    assert table.set_index("channel")["win_rate"].to_dict() == {"官网": 1.0, "转介绍": 0.75}
    spec = channel_chart(table, "en").to_dict()
    assert spec["layer"][0]["encoding"]["y"]["sort"] == ["转介绍", "官网"]


def test_channel_chart_names_leads_without_a_channel() -> None:
    stages = get_pipeline().funnel_keys
    table = channel_frame(funnel_segments(rollup([(None, "open", "lead", 0, 4, 0.0)]), stages))
    spec = channel_chart(table, "en").to_dict()
    assert [row["channel"] for row in chart_rows(spec)] == ["(none)"]


def test_report_table_of_the_overall_segment_only_feeds_the_chart() -> None:
    stages = get_pipeline().funnel_keys
    overall = funnel_segment(seed_rollup(SEED, stages), stages)
    report = FunnelReport(stages, overall, [overall], pd.DataFrame(), pd.DataFrame())
    table = report_table(replace(report, segments=[]))
    assert len(table) == len(stages)

from __future__ import annotations

import pytest

from funnel.pipeline.stages import PipelineError, get_pipeline, parse_pipeline


def test_the_default_pipeline_is_lead_contact_qualify_proposal_closing_then_won():
    pipeline = get_pipeline()

    assert pipeline.funnel_keys == ["lead", "contact", "qualify", "proposal", "closing", "won"]
    assert pipeline.name("qualify", "zh") == "需求确认"
    assert pipeline.name("qualify", "en") == "Needs qualified"
    probabilities = [pipeline.win_probability(k) for k in pipeline.funnel_keys]
    assert probabilities == sorted(probabilities)


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("qualify", "qualify"),
        ("Needs qualified", "qualify"),
        ("需求确认", "qualify"),
        ("需求確認", "qualify"),
        ("  PROPOSAL ", "proposal"),
        ("線索獲取", "lead"),
        ("成交轉化", "closing"),
        ("Closed Won", "won"),
        ("赢单", "won"),
        ("輸單", "lost"),
        ("nonsense", None),
        ("", None),
    ],
)
def test_stage_values_resolve_from_keys_and_names_in_either_language(value, key):
    assert get_pipeline().resolve(value) == key


def test_a_team_can_rename_add_and_reorder_stages_in_a_file():
    pipeline = parse_pipeline(
        """
        [[stage]]
        key = "mql"
        en = "Marketing qualified"
        zh = "市场认可线索"
        win_probability = 0.05
        [[stage]]
        key = "demo"
        en = "Demo"
        zh = "产品演示"
        win_probability = 0.4
        [[stage]]
        key = "negotiation"
        en = "Negotiation"
        win_probability = 0.6
        """
    )

    assert pipeline.funnel_keys == ["mql", "demo", "negotiation", "won"]
    assert pipeline.resolve("产品演示") == "demo"
    assert pipeline.name("negotiation", "zh") == "Negotiation"  # falls back to English
    assert pipeline.rank("won") == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "at least one"),
        ('[[stage]]\nkey = "a"\n[[stage]]\nkey = "a"', "unique"),
        ('[[stage]]\nkey = "won"', "outcomes"),
        ('[[stage]]\nkey = "a"\nwin_probability = 2', "between 0 and 1"),
        ("[[stage", "not valid TOML"),
    ],
)
def test_a_malformed_pipeline_file_is_refused_with_a_reason(text, message):
    with pytest.raises(PipelineError, match=message):
        parse_pipeline(text)

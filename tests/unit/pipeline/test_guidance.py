"""The stage guidance of the pipeline file and its exit criteria (warn or block) in the move rule."""

from __future__ import annotations

import pytest

from funnel.core.errors import ValidationError
from funnel.pipeline.rules import check_move, exit_warnings, missing_exit_fields
from funnel.pipeline.stages import DEFAULT_PIPELINE_FILE, PipelineError, parse_pipeline

PIPELINE = parse_pipeline(DEFAULT_PIPELINE_FILE.read_text(encoding="utf-8"))
FILLED = {"budget_range": "100k", "purchase_timeline": "Q1", "use_case": "CRM", "competitors": "X"}


def test_the_default_pipeline_gives_every_stage_a_state_and_key_actions_in_both_languages():
    for stage in PIPELINE.stages:
        guidance = stage.guidance
        assert guidance.state_text("en") and guidance.state_text("zh")
        assert guidance.action_texts("zh") and all(guidance.action_texts("en"))


def test_qualify_asks_for_the_decision_chain_budget_timeline_and_use_case_and_blocks():
    guidance = PIPELINE.get("qualify").guidance
    assert guidance.mode == "block"
    assert set(guidance.exit_fields) == {"budget_range", "purchase_timeline", "use_case"}


@pytest.mark.parametrize(
    ("to", "refused"),
    [("proposal", True), ("closing", True), ("won", True), ("contact", False), ("lost", False)],
)
def test_a_block_mode_stage_refuses_moving_forward_with_exit_fields_empty(to, refused):
    values = {**FILLED, "budget_range": " ", "use_case": None}
    move = lambda: check_move(  # noqa: E731
        PIPELINE, stage="qualify", status="open", to=to, lost_reason="price", values=values
    )
    if not refused:
        move()
        return
    with pytest.raises(ValidationError) as caught:
        move()
    assert {e.field for e in caught.value.errors} == {"budget_range", "use_case"}
    assert {e.code for e in caught.value.errors} == {"error.exit_field_missing"}


def test_a_block_mode_stage_lets_a_customer_move_on_once_its_exit_fields_are_filled():
    check_move(PIPELINE, stage="qualify", status="open", to="proposal", lost_reason=None, values=FILLED)


def test_a_warn_mode_stage_moves_on_and_names_the_empty_fields_as_warnings():
    check_move(PIPELINE, stage="contact", status="open", to="qualify", lost_reason=None, values={})
    assert exit_warnings(PIPELINE, stage="contact", status="open", to="qualify", values={}) == ["use_case"]
    assert exit_warnings(PIPELINE, stage="contact", status="open", to="lead", values={}) == []


def test_reopening_a_lost_customer_is_not_held_by_exit_criteria():
    check_move(PIPELINE, stage="qualify", status="lost", to="proposal", lost_reason=None, values={})


def test_missing_exit_fields_reads_the_stage_of_the_pipeline_file():
    text = DEFAULT_PIPELINE_FILE.read_text(encoding="utf-8").replace(
        'exit_fields = []\nmode = "warn"', 'exit_fields = ["company"]\nmode = "block"', 1
    )
    pipeline = parse_pipeline(text)
    assert missing_exit_fields(pipeline, stage="lead", values={"company": ""}) == ["company"]
    with pytest.raises(ValidationError):
        check_move(pipeline, stage="lead", status="open", to="contact", lost_reason=None, values={})


def test_a_guidance_mode_other_than_warn_or_block_is_a_pipeline_error():
    text = DEFAULT_PIPELINE_FILE.read_text(encoding="utf-8").replace('mode = "block"', 'mode = "stop"')
    with pytest.raises(PipelineError, match="mode"):
        parse_pipeline(text)

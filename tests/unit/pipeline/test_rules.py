"""The stage rules, table-driven: moves, a new lead's history, the stored funnel state."""

from __future__ import annotations

from datetime import datetime

import pytest

from funnel.core.errors import ValidationError
from funnel.pipeline.rules import (
    FunnelState,
    after_move,
    check_move,
    first_contact,
    funnel_state,
    stage_after,
)
from funnel.pipeline.stages import get_pipeline

P = get_pipeline()
D = [datetime(2026, 1, day) for day in range(1, 10)]


@pytest.mark.parametrize(
    ("stage", "status", "to", "reason", "error"),
    [
        ("lead", "open", "contact", None, None),
        ("lead", "open", "closing", None, None),  # skipping ahead is allowed
        ("qualify", "open", "lead", None, None),  # so is moving back
        ("qualify", "open", "qualify", None, ("stage", "error.same_stage")),
        ("won", "won", "proposal", None, ("stage", "error.won_is_final")),
        ("won", "won", "lost", "late", ("stage", "error.won_is_final")),
        ("qualify", "open", "lost", None, ("lost_reason", "error.required")),
        ("qualify", "open", "lost", "  ", ("lost_reason", "error.required")),
        ("qualify", "open", "lost", "价格", None),
        ("qualify", "lost", "qualify", None, None),  # reopening a lost customer at its stage is a move
        ("qualify", "lost", "lost", "again", ("stage", "error.same_stage")),
        ("lead", "open", "nowhere", None, ("stage", "error.stage_unknown")),
    ],
)
def test_moves_follow_the_rules(stage, status, to, reason, error):
    if error is None:
        check_move(P, stage=stage, status=status, to=to, lost_reason=reason)
        return
    with pytest.raises(ValidationError) as caught:
        check_move(P, stage=stage, status=status, to=to, lost_reason=reason)
    assert [(e.field, e.code) for e in caught.value.errors] == [error]


@pytest.mark.parametrize(
    ("history", "status", "stage", "expected"),
    [
        ([("lead", D[0])], "open", "lead", FunnelState("lead", None, None)),
        (
            [("lead", D[0]), ("qualify", D[1]), ("contact", D[2])],
            "open",
            "contact",
            FunnelState("qualify", None, None),
        ),
        (
            [("lead", D[0]), ("proposal", D[1]), ("lost", D[2])],
            "lost",
            "proposal",
            FunnelState("proposal", None, D[2]),
        ),
        ([("lead", D[0]), ("won", D[3])], "won", "won", FunnelState("won", D[3], None)),
        # A deal won once and reopened (history from elsewhere) has not reached won.
        (
            [("lead", D[0]), ("won", D[1]), ("proposal", D[2])],
            "open",
            "proposal",
            FunnelState("proposal", None, None),
        ),
        # Lost, reopened, lost again: the last loss dates it.
        (
            [("lead", D[0]), ("lost", D[1]), ("contact", D[2]), ("lost", D[3])],
            "lost",
            "contact",
            FunnelState("contact", None, D[3]),
        ),
        # No pipeline stage in the history (older data): the current stage counts as reached.
        ([], "open", "qualify", FunnelState("qualify", None, None)),
    ],
)
def test_the_stored_state_of_a_history(history, status, stage, expected):
    assert funnel_state(P, history, status=status, stage=stage) == expected


def test_the_incremental_state_equals_the_full_recount_along_a_journey():
    journey = [
        ("contact", D[1]),
        ("qualify", D[2]),
        ("lost", D[3]),
        ("contact", D[4]),
        ("closing", D[5]),
        ("won", D[6]),
    ]
    history, status, stage = [("lead", D[0])], "open", "lead"
    state = funnel_state(P, history, status=status, stage=stage)
    for to, at in journey:
        state = after_move(P, state, to=to, at=at)
        history.append((to, at))
        status = to if to in ("won", "lost") else "open"
        stage = "won" if to == "won" else stage if to == "lost" else to
        assert state == funnel_state(P, history, status=status, stage=stage), to


@pytest.mark.parametrize(
    ("history", "status", "expected"),
    [
        ([("lead", D[0])], "open", "lead"),
        ([("lead", D[0]), ("qualify", D[1])], "open", "qualify"),
        ([("lead", D[0]), ("proposal", D[1]), ("lost", D[2])], "lost", "proposal"),
        ([("lead", D[0]), ("closing", D[1]), ("won", D[2])], "won", "won"),
    ],
)
def test_the_stage_column_after_a_history(history, status, expected):
    assert stage_after(P, history, status) == expected


def test_first_contact_is_the_first_move_past_the_first_stage_and_no_outcome():
    assert first_contact(P, [("lead", D[0]), ("lost", D[1])]) is None
    assert first_contact(P, [("lead", D[0]), ("qualify", D[3]), ("contact", D[2])]) == D[2]

"""The stage rules, once: what a move may do, which history a new lead gets, and the stored funnel state.

Every write path (the lead form, a stage move, the importer, the demo, `python -m funnel check`) calls
these pure functions, so "won is final", "lost needs a reason", "first contact = the first move past
the first stage" and "furthest stage reached" cannot drift apart between them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from funnel.core.errors import FieldError, ValidationError
from funnel.core.validation import clean
from funnel.pipeline.stages import LOST, OUTCOMES, WON, Pipeline

OPEN = "open"


def current_stage(stage: str, status: str) -> str:
    """Where a customer stands: its outcome once closed (won or lost), else its open stage."""
    return status if status in OUTCOMES else stage


def missing_exit_fields(pipeline: Pipeline, *, stage: str, values: Mapping[str, object]) -> list[str]:
    """The exit fields of `stage` (from the pipeline's guidance) that `values` leaves empty."""
    if stage not in pipeline.keys:
        return []
    return [name for name in pipeline.get(stage).guidance.exit_fields if not clean(_text(values.get(name)))]


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def exit_warnings(
    pipeline: Pipeline, *, stage: str, status: str, to: str, values: Mapping[str, object]
) -> list[str]:
    """Exit fields a warn-mode stage leaves empty when moving forward from it (shown, not refused)."""
    if status != OPEN or to == LOST or stage not in pipeline.keys:
        return []
    if to in pipeline.keys and pipeline.rank(to) <= pipeline.rank(stage):
        return []
    return missing_exit_fields(pipeline, stage=stage, values=values)


def check_move(
    pipeline: Pipeline,
    *,
    stage: str,
    status: str,
    to: str,
    lost_reason: str | None,
    values: Mapping[str, object] | None = None,
) -> None:
    """Refuse a move that breaks a rule (ValidationError on "stage", "lost_reason" or an exit field).

    A won deal is final: the funnel counts it as having reached every stage, so moving it back would
    leave it counted as won while open (more business is a new opportunity). A lost one may reopen.
    Moving forward (or to won) from a stage whose guidance is in "block" mode needs its exit fields
    filled (`values` holds the customer's fields); moving back or to lost never does.
    """
    if to not in (*pipeline.keys, *OUTCOMES):
        raise ValidationError([FieldError("stage", "error.stage_unknown", {"value": to})])
    current = current_stage(stage, status)
    if to == current:
        raise ValidationError([FieldError("stage", "error.same_stage")])
    if current == WON:
        raise ValidationError([FieldError("stage", "error.won_is_final")])
    if to == LOST and not clean(lost_reason):
        raise ValidationError([FieldError("lost_reason", "error.required")])
    if values is not None and stage in pipeline.keys and pipeline.get(stage).guidance.mode == "block":
        missing = exit_warnings(pipeline, stage=stage, status=status, to=to, values=values)
        if missing:
            raise ValidationError(
                [
                    FieldError(
                        name, "error.exit_field_missing", {"stage": pipeline.name(stage), "field": name}
                    )
                    for name in missing
                ]
            )


def new_lead_history(
    pipeline: Pipeline, *, stage: str, status: str, created: datetime, dates: Mapping[str, datetime]
) -> list[tuple[str, datetime]]:
    """A new lead's events: the first stage at creation, each dated stage, the named stage, the outcome."""
    events: dict[str, datetime] = {pipeline.first: dates.get(pipeline.first, created)}
    for key in pipeline.keys:
        if key in dates:
            events[key] = dates[key]
    if stage not in events:
        events[stage] = max(events.values())
    if status in OUTCOMES:
        events[status] = dates.get(status, max(events.values()))
    order = {key: i for i, key in enumerate([*pipeline.keys, *OUTCOMES])}
    return sorted(events.items(), key=lambda item: order[item[0]])


def stage_after(pipeline: Pipeline, history: Sequence[tuple[str, datetime]], status: str) -> str:
    """The `stage` column for a history: won once won; a lost lead stays at the furthest stage it reached."""
    if status == WON:
        return WON
    reached = [key for key, _ in history if key in pipeline.keys]
    if status == LOST:
        return max(reached, key=pipeline.rank) if reached else pipeline.first
    stages = [key for key, _ in history if key not in OUTCOMES]
    return stages[-1] if stages else pipeline.first


@dataclass(frozen=True)
class FunnelState:
    """What the customer row stores about its history, so reports read columns, not the event table."""

    furthest_stage: str  # the furthest pipeline stage ever reached, or `won` once won
    won_at: datetime | None
    lost_at: datetime | None

    @property
    def closed_at(self) -> datetime | None:
        return self.won_at or self.lost_at


def furthest_stage(pipeline: Pipeline, reached: Iterable[str], *, status: str, stage: str) -> str:
    """The furthest stage of a customer whose history holds `reached`; only status won reaches `won`.

    Without any pipeline stage in its history (data from before the history was kept) the current
    stage counts as reached.
    """
    if status == WON:
        return WON
    ranks = [pipeline.rank(key) for key in reached if key in pipeline.keys]
    if not ranks:
        return stage if stage in pipeline.keys else pipeline.first
    return pipeline.keys[max(ranks)]


def funnel_state(
    pipeline: Pipeline, history: Sequence[tuple[str, datetime]], *, status: str, stage: str
) -> FunnelState:
    """The stored state for a full, time-ordered history and the customer's status."""
    won = [at for key, at in history if key == WON]
    lost = [at for key, at in history if key == LOST]
    return FunnelState(
        furthest_stage=furthest_stage(pipeline, (key for key, _ in history), status=status, stage=stage),
        won_at=max(won) if status == WON and won else None,
        lost_at=max(lost) if status == LOST and lost else None,
    )


def first_contact(pipeline: Pipeline, history: Iterable[tuple[str, datetime]]) -> datetime | None:
    """When the lead first moved past the first stage (an outcome is no contact)."""
    later = [at for key, at in history if key in pipeline.keys and key != pipeline.first]
    return min(later) if later else None


def after_move(pipeline: Pipeline, state: FunnelState, *, to: str, at: datetime) -> FunnelState:
    """The stored state after one more move to `to` at `at` (the incremental form of funnel_state)."""
    if to == WON:
        return FunnelState(WON, won_at=at, lost_at=None)
    if to == LOST:
        return FunnelState(state.furthest_stage, won_at=None, lost_at=at)
    furthest = state.furthest_stage
    if furthest not in pipeline.keys or pipeline.rank(to) > pipeline.rank(furthest):
        furthest = to
    return FunnelState(furthest, won_at=None, lost_at=None)

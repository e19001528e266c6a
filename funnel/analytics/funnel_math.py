"""Pure funnel math over the small frames from the roll-ups: reached, conversion, drop-off, loss points."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from funnel.pipeline.stages import LOST, WON


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is zero."""
    return numerator / denominator if denominator else None


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval of a rate (95 % by default); None without trials.

    Unlike the plain p ± z·sqrt(p(1-p)/n) it stays within [0, 1] and is honest at small n: 3 of 5 gives
    roughly 23 %–88 %, which tells a manager not to read much into it.
    """
    if trials <= 0:
        return None
    if not 0 <= successes <= trials:
        raise ValueError(f"successes {successes} must be between 0 and trials {trials}")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def step_matrix(segments: Sequence[FunnelSegment], *, min_sample: int = 0) -> pd.DataFrame:
    """Each segment's step conversion into each stage after the first, with its sample and interval.

    Columns: segment, stage, trials (reached the previous stage), reached, step_conversion, low, high,
    small (fewer than `min_sample` trials: shown greyed, not to be compared).
    """
    rows = []
    for segment in segments:
        for prev, stage in zip(segment.stages, segment.stages[1:], strict=False):
            trials, reached = segment.reached[prev], segment.reached[stage]
            interval = wilson_interval(reached, trials)
            rows.append(
                {
                    "segment": segment.value,
                    "stage": stage,
                    "trials": trials,
                    "reached": reached,
                    "step_conversion": ratio(reached, trials),
                    "low": interval[0] if interval else None,
                    "high": interval[1] if interval else None,
                    "small": trials < min_sample,
                }
            )
    columns = ["segment", "stage", "trials", "reached", "step_conversion", "low", "high", "small"]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class LossPoint:
    """The step with the lowest step conversion: leads stopped at `at_stage` and did not reach `to_stage`."""

    at_stage: str
    to_stage: str
    step_conversion: float
    drop_off: int
    lost_reasons: dict[str, int] = field(default_factory=dict)
    objections: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FunnelSegment:
    """The funnel of one group of customers (all of them, or one value of a split)."""

    value: str | None
    stages: tuple[str, ...]
    total: int
    open: int
    won: int
    lost: int
    won_amount: float
    reached: dict[str, int]
    current: dict[str, int]

    @property
    def win_rate(self) -> float | None:
        return ratio(self.won, self.won + self.lost)

    def drill_total(self, *, reached: str | None, current: str | None, status: str | None) -> int | None:
        """How many customers funnel.analytics.rollups.drill_customers lists for one of this segment's
        figures (a stage reached, open at a stage, an outcome); None for anything else."""
        picked = [(reached, self.reached), (current, self.current), (status, self._by_status)]
        given = [(key, counts) for key, counts in picked if key is not None]
        if len(given) != 1:
            return None
        key, counts = given[0]
        if current == WON:
            return None  # current[won] counts the won; a drill of "open at won" finds nobody
        return counts.get(key)

    @property
    def _by_status(self) -> dict[str, int]:
        return {"open": self.open, WON: self.won, LOST: self.lost}

    @property
    def incomplete(self) -> bool:
        """A cohort with open leads is still running; its losses are not final."""
        return self.open > 0

    @property
    def step_conversion(self) -> dict[str, float | None]:
        """reached(i) / reached(i-1); None for the first stage and after an empty stage."""
        out: dict[str, float | None] = {self.stages[0]: None}
        for prev, stage in zip(self.stages, self.stages[1:], strict=False):
            out[stage] = ratio(self.reached[stage], self.reached[prev])
        return out

    @property
    def overall_conversion(self) -> dict[str, float | None]:
        first = self.reached[self.stages[0]]
        return {stage: ratio(self.reached[stage], first) for stage in self.stages}

    @property
    def drop_off(self) -> dict[str, int]:
        """reached(i-1) - reached(i): how many did not make it into each stage."""
        out = {self.stages[0]: 0}
        for prev, stage in zip(self.stages, self.stages[1:], strict=False):
            out[stage] = self.reached[prev] - self.reached[stage]
        return out

    def lowest_steps(self) -> list[str]:
        """The stage(s) into which the step conversion is lowest (ties all count), as loss_point judges
        them: the last step, into won, is left to the win rate."""
        steps = {s: c for s, c in self.step_conversion.items() if c is not None and s != WON}
        if not steps:
            return []
        lowest = min(steps.values())
        return [s for s, c in steps.items() if abs(c - lowest) < 1e-12]

    def loss_point(self, details: pd.DataFrame | None = None) -> LossPoint | None:
        """The step between stages with the lowest step conversion (the earliest on a tie).

        The last step, into `won`, is left to the win rate: deals still open at the last stage would
        otherwise make it look like the worst step in any young funnel.
        """
        lowest = self.lowest_steps()
        if not lowest:
            return None
        to_stage = lowest[0]
        conversion = self.step_conversion[to_stage]
        assert conversion is not None  # lowest_steps names only steps with a conversion
        at_stage = self.stages[self.stages.index(to_stage) - 1]
        reasons: dict[str, int] = {}
        objections: dict[str, int] = {}
        if details is not None and not details.empty:
            here = details[(details["stage"] == at_stage) & _same_segment(details["segment"], self.value)]
            reasons = _counts(here[here["kind"] == "lost_reason"])
            objections = _counts(here[here["kind"] == "objection"])
        return LossPoint(
            at_stage=at_stage,
            to_stage=to_stage,
            step_conversion=conversion,
            drop_off=self.drop_off[to_stage],
            lost_reasons=reasons,
            objections=objections,
        )

    def as_dict(self, details: pd.DataFrame | None = None) -> dict[str, object]:
        """The SEGMENT object of `report --format json`."""
        loss = self.loss_point(details)
        return {
            "value": self.value,
            "total": self.total,
            "open": self.open,
            "won": self.won,
            "lost": self.lost,
            "win_rate": self.win_rate,
            "won_amount": self.won_amount,
            "incomplete": self.incomplete,
            "reached": self.reached,
            "current": self.current,
            "step_conversion": self.step_conversion,
            "overall_conversion": self.overall_conversion,
            "drop_off": self.drop_off,
            "loss_point": None if loss is None else loss.__dict__,
        }


def _same_segment(column: pd.Series, value: str | None) -> pd.Series:
    return column.isna() if value is None else column == value


def _counts(rows: pd.DataFrame) -> dict[str, int]:
    grouped = rows.groupby("detail")["count"].sum().sort_values(ascending=False)
    return {str(k or "—"): int(v) for k, v in grouped.items()}


def funnel_segment(rollup: pd.DataFrame, stages: Sequence[str], value: str | None = None) -> FunnelSegment:
    """Fold one segment's rows of `stage_rollup` into reached / current counts.

    `stages` are the funnel keys in order, ending with `won`; a customer has reached every stage up to
    its furthest rank, so skipped stages count as passed.
    """
    stages = tuple(stages)
    by_rank = rollup.groupby("furthest")["customers"].sum() if not rollup.empty else pd.Series(dtype="int64")
    reached = {stage: int(by_rank[by_rank.index >= rank].sum()) for rank, stage in enumerate(stages)}
    by_status = rollup.groupby("status")["customers"].sum() if not rollup.empty else pd.Series(dtype="int64")
    open_rows = rollup[rollup["status"] == "open"] if not rollup.empty else rollup
    open_by_stage = open_rows.groupby("stage")["customers"].sum() if not rollup.empty else pd.Series()
    current = {stage: int(open_by_stage.get(stage, 0)) for stage in stages if stage != WON}
    current[WON] = int(by_status.get(WON, 0))
    return FunnelSegment(
        value=value,
        stages=stages,
        total=int(rollup["customers"].sum()) if not rollup.empty else 0,
        open=int(by_status.get("open", 0)),
        won=int(by_status.get(WON, 0)),
        lost=int(by_status.get(LOST, 0)),
        won_amount=float(rollup["won_amount"].sum()) if not rollup.empty else 0.0,
        reached=reached,
        current=current,
    )


def funnel_segments(rollup: pd.DataFrame, stages: Sequence[str]) -> list[FunnelSegment]:
    """One FunnelSegment per value of the split, largest first (None last)."""
    segments = [
        funnel_segment(rows, stages, value=None if pd.isna(key) else str(key))
        for key, rows in rollup.groupby("segment", dropna=False, sort=False)
    ]
    return sorted(segments, key=lambda s: (s.value is None, -s.total, s.value or ""))

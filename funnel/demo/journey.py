"""One demo lead's path through the pipeline: dated stage events, then won, lost or still open."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from funnel.pipeline.stages import LOST, WON

# Demo times are drawn in Beijing working hours and stored, like every timestamp, as naive UTC.
BEIJING = timedelta(hours=8)
WORK_START, WORK_END = 9, 20

# Step conversion out of each stage by position (first contact, qualify, propose, close, win); a longer
# pipeline repeats DEFAULT_STEP_RATE. Together ~8 % of leads win before channel and rep effects.
BASE_STEP_RATES = (0.72, 0.55, 0.62, 0.6, 0.55)
DEFAULT_STEP_RATE = 0.6
MAX_STEP_RATE = 0.95
SKIP_CHANCE = 0.05
# A lead that stops advancing is usually lost; the rest stay open (stale leads every CRM has).
LOSE_WHEN_STALLED = 0.8
FIRST_CONTACT_IN_DAY = 0.88


@dataclass(frozen=True)
class Journey:
    """Stage events in time order (the first stage at creation, then stages, then an outcome)."""

    events: tuple[tuple[str, datetime], ...]
    status: str
    furthest: int  # position of the furthest pipeline stage reached

    @property
    def closed_at(self) -> datetime | None:
        return self.events[-1][1] if self.status in (WON, LOST) else None

    @property
    def last_at(self) -> datetime:
        return self.events[-1][1]


def phase(position: int, stage_count: int) -> str:
    """`early`, `middle` or `late` third of the pipeline, so wording works for any pipeline."""
    share = position / max(stage_count - 1, 1)
    return "early" if share < 0.34 else "middle" if share < 0.67 else "late"


def working_time(rng: random.Random, at: datetime) -> datetime:
    """`at`, or a morning soon after it when `at` falls outside Beijing working hours (never earlier)."""
    local = at + BEIJING
    day: date | None = None
    if local.hour >= WORK_END:
        day = local.date() + timedelta(days=1)
    elif local.hour < WORK_START:
        day = local.date()
    # Most people wait for Monday; a few work weekends.
    weekday = (day or local.date()).weekday()
    if weekday >= 5 and rng.random() < 0.8:
        day = (day or local.date()) + timedelta(days=7 - weekday)
    if day is not None:
        # Spread over the morning rather than piling every deferred event onto 09:00.
        local = datetime.combine(day, time(WORK_START)) + timedelta(minutes=rng.uniform(0, 180))
    # Whole seconds, as a person would see them.
    return (local - BEIJING).replace(microsecond=0)


def _first_contact_gap(rng: random.Random) -> timedelta:
    if rng.random() < FIRST_CONTACT_IN_DAY:
        return timedelta(hours=rng.triangular(0.1, 20.0, 0.5))
    return timedelta(hours=rng.uniform(25, 24 * 6))


def _stage_gap(rng: random.Random, position: int) -> timedelta:
    # Later stages take longer: a median of 3 days after first contact, growing 1.5 days a stage.
    median_days = 1.5 + 1.5 * position
    days = rng.lognormvariate(math.log(median_days), 0.6)
    return timedelta(hours=max(1.0, days * 24))


def step_rate(position: int, lift: float, stage_count: int) -> float:
    """Chance of moving on from the stage at `position`, given a lead's overall lift."""
    base = BASE_STEP_RATES[position] if position < len(BASE_STEP_RATES) else DEFAULT_STEP_RATE
    # Spread the overall lift evenly over the steps so it multiplies the win rate, not each step.
    return min(MAX_STEP_RATE, base * lift ** (1 / stage_count))


def simulate_journey(
    rng: random.Random, *, keys: list[str], created: datetime, now: datetime, lift: float
) -> Journey:
    """Walk a lead created at `created` forward until it wins, is lost, stalls or reaches `now`."""
    events: list[tuple[str, datetime]] = [(keys[0], created)]
    position, at, last = 0, created, len(keys) - 1
    while True:
        if rng.random() < step_rate(position, lift, len(keys)):
            step = 2 if position + 2 <= last and rng.random() < SKIP_CHANCE else 1
            gap = _first_contact_gap(rng) if position == 0 else _stage_gap(rng, position)
            nxt = working_time(rng, at + gap)
            if nxt >= now:
                return Journey(tuple(events), "open", position)
            if position == last:
                events.append((WON, nxt))
                return Journey(tuple(events), WON, position)
            position += step
            events.append((keys[position], nxt))
            at = nxt
            continue
        if rng.random() >= LOSE_WHEN_STALLED:
            return Journey(tuple(events), "open", position)
        lost_at = working_time(rng, at + timedelta(days=rng.lognormvariate(math.log(7), 0.7)))
        if lost_at >= now:
            return Journey(tuple(events), "open", position)
        events.append((LOST, lost_at))
        return Journey(tuple(events), LOST, position)

"""Factories shared by tests: rollup frames for the funnel math, leads for the store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import count

import pandas as pd
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM
from funnel.capture.leads import LeadInput, create_lead
from funnel.pipeline.stages import get_pipeline

ROLLUP_COLUMNS = ["segment", "status", "stage", "furthest", "customers", "won_amount"]
_serial = count(1)


def rollup(rows: Iterable[tuple[str | None, str, str, int, int, float]]) -> pd.DataFrame:
    """A stage_rollup-shaped frame from (segment, status, stage, furthest, customers, won_amount) rows."""
    return pd.DataFrame(list(rows), columns=ROLLUP_COLUMNS)


def seed_rollup(reached_counts: Sequence[int], stages: Sequence[str]) -> pd.DataFrame:
    """Open customers such that exactly reached_counts[i] reached stage i."""
    rows = []
    for rank, reached in enumerate(reached_counts):
        beyond = reached_counts[rank + 1] if rank + 1 < len(reached_counts) else 0
        if reached - beyond:
            rows.append((None, "open", stages[rank], rank, reached - beyond, 0.0))
    return rollup(rows)


def add_leads(session: Session, stage_counts: dict[str, int], **fields: object) -> None:
    """Create leads at each stage through the real use case (each with a unique e-mail)."""
    pipeline = get_pipeline()
    for stage, how_many in stage_counts.items():
        for _ in range(how_many):
            n = next(_serial)
            where = (
                {"status": stage, "stage": pipeline.keys[-1] if stage == "won" else fields.get("stage")}
                if stage in ("won", "lost")
                else {"stage": stage}
            )
            values = {**fields, **where}
            lead = LeadInput(name=f"Lead {n}", email=f"lead{n}@example.com", **values)  # type: ignore[arg-type]
            create_lead(session, lead, actor=SYSTEM)
    session.flush()


SEED_STAGES = {"lead": 800, "contact": 100, "qualify": 80, "proposal": 10, "closing": 10}

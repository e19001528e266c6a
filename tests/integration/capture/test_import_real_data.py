"""Real-data checks of the import: the seed example and the Olist marketing funnel (8,000 MQLs)."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from funnel.access.permissions import SYSTEM
from funnel.capture.importer import import_file
from funnel.cli.main import main
from funnel.core.db import session_scope
from funnel.pipeline.stages import get_pipeline
from funnel.store.models import Customer, StageEvent


def _count(engine: Engine, *where: object) -> int:
    with session_scope(engine) as s:
        return s.scalar(select(func.count()).select_from(Customer).where(*where)) or 0


def _reached(engine: Engine) -> list[int]:
    """Customers that reached each funnel stage, by their furthest stage event (a skipped stage counts)."""
    pipeline = get_pipeline()
    furthest: dict[int, int] = {}
    with session_scope(engine) as s:
        for customer_id, stage in s.execute(select(StageEvent.customer_id, StageEvent.to_stage)):
            if stage in pipeline.funnel_keys:
                furthest[customer_id] = max(furthest.get(customer_id, 0), pipeline.rank(stage))
    return [sum(1 for rank in furthest.values() if rank >= i) for i in range(len(pipeline.funnel_keys))]


def test_the_seed_example_imports_fully_and_reaches_1000_200_100_20_10(engine, tmp_path):
    stages = ["lead"] * 800 + ["contact"] * 100 + ["qualify"] * 80 + ["proposal"] * 10 + ["closing"] * 10
    rows = [
        [f"Lead {i}", f"139{i:08d}", stage, f"2024-01-{1 + i % 28:02d}"] for i, stage in enumerate(stages)
    ]
    path = tmp_path / "seed.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([["name", "phone", "stage", "created_at"], *rows])

    report = import_file(engine, path, actor=SYSTEM)

    assert (report.created, report.rejected, report.warnings) == (1000, [], [])
    assert _reached(engine) == [1000, 200, 100, 20, 10, 0]


def _olist_csv(datasets: Path, tmp_path: Path) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """The MQLs left-joined with their closed deals, as a CSV in tmp_path (never in the repository)."""
    folder = datasets / "olist_marketing_funnel"
    mqls = pd.read_csv(folder / "olist_marketing_qualified_leads_dataset.csv")
    deals = pd.read_csv(folder / "olist_closed_deals_dataset.csv")
    joined = mqls.merge(deals[["mql_id", "won_date"]], on="mql_id", how="left")
    joined["name"] = "MQL " + joined["mql_id"].str[:8]
    joined["status"] = joined["won_date"].notna().map({True: "won", False: ""})
    path = tmp_path / "olist_joined.csv"
    joined.to_csv(path, index=False)
    return path, mqls, deals


@pytest.mark.slow  # about 6 s on SQLite and 12 s on PostgreSQL, twice over 8,000 rows
def test_the_olist_funnel_imports_with_pandas_counts_and_reimports_unchanged(
    engine, tmp_path, datasets, capsys
):
    path, mqls, deals = _olist_csv(datasets, tmp_path)
    column_map = {"mql_id": "external_id", "origin": "channel", "first_contact_date": "created_at"}
    column_map["won_date"] = "won_at"
    args = [part for source, name in column_map.items() for part in ("--map", f"{source}={name}")]

    started = time.perf_counter()
    code = main(["import", str(path), *args])
    elapsed = time.perf_counter() - started

    out = capsys.readouterr().out
    won = deals.merge(mqls, on="mql_id")
    expected_by_channel = {
        (None if pd.isna(k) else k): n for k, n in won.groupby("origin", dropna=False).size().items()
    }
    early = int((pd.to_datetime(won["won_date"]) < pd.to_datetime(won["first_contact_date"])).sum())
    assert code == 0, out
    assert elapsed < 20, f"8,000 rows took {elapsed:.1f} s"
    summary = "imported 8000 rows: 8000 created, 0 updated, 0 unchanged; 0 rejected"
    assert out.strip().splitlines()[-1] == f"{summary}; {early} warnings"
    assert "ignored columns (not recognised): landing_page_id" in out
    assert _count(engine) == len(mqls) == 8000
    assert _count(engine, Customer.status == "won") == len(deals) == 842
    with session_scope(engine) as s:
        by_channel = dict(
            s.execute(
                select(Customer.channel, func.count())
                .where(Customer.status == "won")
                .group_by(Customer.channel)
            ).all()
        )
        assert _count(engine, Customer.channel.is_(None)) == int(mqls["origin"].isna().sum())
    assert by_channel == expected_by_channel
    assert _reached(engine)[-1] == 842
    again = import_file(engine, path, column_map=column_map, actor=SYSTEM)
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 8000, [])
    assert _count(engine) == 8000

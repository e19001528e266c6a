"""The query benchmark's three ways of answering each query agree on a small demo (benchmarks/queries_bench.py).

When a page's query changes what it answers, its adapters in benchmarks/query_set.py or query_pages.py must
follow; this test says which one disagrees.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM
from funnel.core.db import make_engine, upgrade
from funnel.demo.generate import generate_demo

pytest.importorskip("duckdb")
pytest.importorskip("duckdb_extension_sqlite_scanner")

from benchmarks import queries_bench, query_set


@pytest.mark.slow
def test_loudou_pandas_and_duckdb_give_the_same_answers(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    engine = make_engine(f"sqlite:///{path}", create=True)
    upgrade(engine)
    generate_demo(engine, leads=1500, seed=3, anchor=date(2026, 11, 1), actor=SYSTEM)
    with Session(engine) as session:
        ctx = query_set.make_ctx(session, date(2026, 10, 20), datetime(2026, 10, 20, 9))
    con = queries_bench.duckdb_copy(path)
    disagree = []
    for query in queries_bench.QUERIES:
        answer = queries_bench.ANSWERS.get(query.name, lambda a: a)
        with Session(engine) as session:
            expected = answer(query.loudou(session, ctx))
        with engine.connect() as conn:
            by_pandas = answer(query.pandas(conn, ctx))
        by_duckdb = answer(query.duckdb(con, ctx))
        disagree += [
            f"{query.name}: {method}"
            for method, got in (("pandas", by_pandas), ("duckdb", by_duckdb))
            if not query_set.same(expected, got)
        ]
    con.close()
    engine.dispose()
    assert disagree == []


def test_same_compares_counts_exactly_and_amounts_to_the_cent() -> None:
    assert query_set.same({"a": (1, 2.0)}, {"a": (1, 2.004)})
    assert not query_set.same({"a": (1, 2.0)}, {"a": (1, 2.01)})
    assert not query_set.same([1, 2], [1, 3])
    assert not query_set.same({"x": None}, {"x": 0.0})
    assert not query_set.same({"x": 1}, {"y": 1})

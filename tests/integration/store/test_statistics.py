"""SQLite's planner statistics follow a database that grows by use: remind and imports refresh them."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from funnel.access.permissions import SYSTEM
from funnel.capture.importer import import_file
from funnel.capture.leads import LeadInput, create_lead
from funnel.cli.main import main
from funnel.core.db import session_scope
from funnel.store.bulk import refresh_stale_statistics


def _add_leads(engine: Engine, start: int, count: int) -> None:
    with session_scope(engine) as session:
        for n in range(start, start + count):
            create_lead(session, LeadInput(name=f"S{n}", email=f"s{n}@x.cn"), actor=SYSTEM)


def _recorded_customers(engine: Engine) -> int | None:
    with engine.connect() as connection:
        if not connection.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first():
            return None
        stats = connection.execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'customer'")).scalars()
        counts = [int(stat.split()[0]) for stat in stats]
        return max(counts) if counts else None


def test_statistics_are_taken_when_missing_and_again_only_when_the_table_doubled(engine):
    if engine.dialect.name != "sqlite":
        assert refresh_stale_statistics(engine) is False  # PostgreSQL's autovacuum keeps its own
        return
    assert refresh_stale_statistics(engine) is False  # nothing to describe yet
    _add_leads(engine, 0, 10)
    assert _recorded_customers(engine) is None
    assert refresh_stale_statistics(engine) is True
    assert _recorded_customers(engine) == 10
    _add_leads(engine, 10, 5)
    assert refresh_stale_statistics(engine) is False  # 15 against 10 recorded: close enough
    _add_leads(engine, 15, 10)
    assert refresh_stale_statistics(engine) is True
    assert _recorded_customers(engine) == 25


def test_the_remind_job_refreshes_missing_statistics(engine, capsys):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only: PostgreSQL's autovacuum keeps its own statistics")
    _add_leads(engine, 0, 12)
    assert main(["remind", "--format", "json"]) == 0
    capsys.readouterr()
    assert _recorded_customers(engine) == 12


def test_an_import_that_adds_customers_leaves_statistics_for_them(engine, tmp_path):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only: PostgreSQL's autovacuum keeps its own statistics")
    csv = tmp_path / "leads.csv"
    csv.write_text("name,email\n" + "".join(f"I{n},i{n}@x.cn\n" for n in range(30)), encoding="utf-8")
    dry = import_file(engine, csv, actor=SYSTEM, dry_run=True)
    assert dry.created == 30 and _recorded_customers(engine) is None  # a dry run writes nothing
    report = import_file(engine, csv, actor=SYSTEM)
    assert report.created == 30
    assert _recorded_customers(engine) == 30


def test_an_index_without_statistics_makes_them_stale(engine):
    """An index a migration adds has no row in sqlite_stat1 until ANALYZE: the next refresh takes them."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only: PostgreSQL's autovacuum keeps its own statistics")
    _add_leads(engine, 0, 10)
    assert refresh_stale_statistics(engine) is True
    assert refresh_stale_statistics(engine) is False
    with engine.begin() as connection:
        connection.execute(text("CREATE INDEX ix_customer_probe ON customer (name, region)"))
    assert refresh_stale_statistics(engine) is True
    with engine.connect() as connection:
        idx = connection.execute(text("SELECT idx FROM sqlite_stat1 WHERE idx = 'ix_customer_probe'"))
        assert idx.scalar() == "ix_customer_probe"
    assert refresh_stale_statistics(engine) is False


def test_analyze_reads_past_the_memory_map_and_gives_the_connection_its_map_back(tmp_path):
    """refresh_statistics turns the connection's memory map off for the ANALYZE (each page it mapped stayed
    resident) and restores the map afterwards, for the pool's next user."""
    from funnel.core.db import make_engine, upgrade
    from funnel.store.bulk import refresh_statistics

    engine = make_engine(f"sqlite:///{tmp_path / 'stats.db'}", create=True)
    upgrade(engine)
    _add_leads(engine, 0, 3)
    with engine.begin() as connection:
        mapped = connection.exec_driver_sql("PRAGMA mmap_size").scalar()
        assert mapped and mapped > 0  # a small file is mapped (funnel.core.db.sqlite_read_settings)
        refresh_statistics(connection, [])
        assert connection.exec_driver_sql("PRAGMA mmap_size").scalar() == mapped
    assert _recorded_customers(engine) == 3
    engine.dispose()

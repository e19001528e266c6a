"""The same seed loads the same demo data on SQLite (executemany) and PostgreSQL (COPY), row for row."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, Table, select

from funnel.access.permissions import SYSTEM
from funnel.core.db import make_engine, upgrade
from funnel.demo.generate import generate_demo
from funnel.demo.rows import TABLES
from funnel.store.models import Base
from tests.conftest import POSTGRES_URL, _fresh_postgres, copy_migrated_sqlite

ANCHOR = date(2026, 6, 30)
# Salted per hash: the one column that must differ between two loads.
UNCOMPARED = {"password_hash"}


def _value(value: object) -> object:
    """A backend-neutral form: SQLite keeps NUMERIC as a float and JSON as text."""
    if isinstance(value, Decimal):
        return str(value.normalize())
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def table_digests(engine: Engine) -> dict[str, tuple[int, str]]:
    """Per demo table: the row count and a hash of every row, column by column, in primary-key order."""
    digests = {}
    with engine.connect() as conn:
        for name in TABLES:
            table: Table = Base.metadata.tables[name]
            columns = [c for c in table.columns if c.name not in UNCOMPARED]
            sha, count = hashlib.sha256(), 0
            for row in conn.execute(select(*columns).order_by(*table.primary_key.columns)):
                sha.update(repr(tuple(_value(v) for v in row)).encode())
                count += 1
            digests[name] = (count, sha.hexdigest())
    return digests


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="CRM_TEST_POSTGRES_URL is not set")
def test_the_same_seed_gives_identical_rows_on_sqlite_and_postgresql(tmp_path: Path, sqlite_template: Path):
    sqlite_url = f"sqlite:///{tmp_path / 'demo.db'}"
    copy_migrated_sqlite(sqlite_template, sqlite_url)
    assert POSTGRES_URL
    _fresh_postgres(POSTGRES_URL).dispose()
    digests = []
    for url in (sqlite_url, POSTGRES_URL):
        engine = make_engine(url)
        upgrade(engine)
        # More leads than one batch, so batches are cut at the same places on both backends.
        generate_demo(engine, leads=6000, seed=11, anchor=ANCHOR, actor=SYSTEM)
        digests.append(table_digests(engine))
        engine.dispose()

    on_sqlite, on_postgres = digests
    assert all(count for count, _ in on_sqlite.values()), on_sqlite
    assert on_sqlite == on_postgres

"""`import --name-from COLUMN` and `--map COLUMN=ignore` on the command line (the page passes the same)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from funnel.cli.main import main
from funnel.core.db import session_scope
from funnel.store.models import Customer, User


def test_a_file_without_names_imports_with_names_from_a_column_and_an_ignored_owner_column(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mqls.csv"
    path.write_text("mql_id,origin,跟进人\nabc123,social,老王\ndef456,paid_search,老王\n", encoding="utf-8")

    code = main(["import", str(path), "--name-from", "mql_id", "--map", "mql_id=external_id",
                 "--map", "跟进人=ignore"])  # fmt: skip

    out = capsys.readouterr().out
    assert code == 0, out
    assert "name (mql_id) -> name" in out and "2 created" in out
    with session_scope(engine) as session:
        stored = session.execute(select(Customer.name, Customer.external_id, Customer.channel)).all()
        assert sorted(stored) == [("abc123", "abc123", "social"), ("def456", "def456", "paid_search")]
        assert session.scalar(select(User).where(User.display_name == "老王")) is None


def test_name_from_a_missing_column_is_a_file_error(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mqls.csv"
    path.write_text("mql_id,origin\nabc123,social\n", encoding="utf-8")
    assert main(["import", str(path), "--name-from", "lead_id"]) == 2
    assert 'The name cannot be taken from column "lead_id"' in capsys.readouterr().err

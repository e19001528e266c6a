"""The bulk write paths at scale (issue #12): a new lead stored finished in one pass, lookups by value that
stay on the btree on PostgreSQL, and an import's updates flushed in groups."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import event, select, update

from funnel.access.permissions import SYSTEM
from funnel.capture import importer
from funnel.capture.importer import import_file
from funnel.capture.leads import LeadInput, create_lead
from funnel.capture.scoring import score_customers
from funnel.core.db import rows_where_in, session_scope
from funnel.customers.tags import tags_of
from funnel.store.models import Contact, Customer


def test_a_new_lead_is_stored_scored_tagged_and_with_its_intake_in_its_own_write(session):
    texts = ["High intent, 大客户", "high INTENT；new free tag", None, "大客户、大客户", "x" * 70]
    leads = [
        create_lead(
            session,
            LeadInput(name=f"L{i}", phone=f"1390000000{i}", company="Acme" if i % 2 else None, tags=text),
            actor=SYSTEM,
        )
        for i, text in enumerate(texts)
    ]
    ids = [lead.id for lead in leads]

    # Before any commit (no after-commit handler has run): the links, the display copy, the intake, a score.
    shown = tags_of(session, ids, "zh")
    assert [sorted(shown.get(i, [])) for i in ids] == [
        sorted(["高意向", "大客户"]), sorted(["高意向", "new free tag"]), [], ["大客户"], [],
    ]  # fmt: skip
    stored = session.execute(
        select(Customer.tags, Customer.intake, Customer.score, Customer.score_reasons)
        .where(Customer.id.in_(ids))
        .order_by(Customer.id)
    ).all()
    assert [row.tags for row in stored] == ["高意向, 大客户", "高意向, new free tag", None, "大客户", None]
    assert {row.intake for row in stored} == {"import"}  # entered by the system
    # The score written with the row is the one a full rescoring from the stored facts gives.
    score_customers(session, ids)
    session.expire_all()
    rescored = session.execute(
        select(Customer.score, Customer.score_reasons).where(Customer.id.in_(ids)).order_by(Customer.id)
    ).all()
    assert [(r.score, r.score_reasons) for r in stored] == [tuple(r) for r in rescored]


def test_rows_where_in_finds_each_value_once_in_chunks(session):
    # On PostgreSQL a chunk is a join against an unnested array, planned for its values; why is in
    # rows_where_in's docstring. The plan it avoids shows in an import of thousands of rows: the 15,000-row
    # import's lead saves wait behind it (test_import_hardening) when it is back.
    for i in range(600):
        create_lead(session, LeadInput(name=f"P{i}", phone=f"1380000{i:04d}"), actor=SYSTEM)
    wanted = [f"1380000{i:04d}" for i in range(0, 1200, 2)] + ["13800000000"]  # half unknown, one repeated
    wanted += [f"139{i:08d}" for i in range(30_000, 30_500)]  # new numbers much like the stored ones
    query = select(Contact.phone, Customer.customer_no).join(Customer)
    statements: list[tuple[str, object]] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        found = rows_where_in(session, query, Contact.phone, wanted)
    finally:
        event.remove(engine, "before_cursor_execute", seen)

    assert sorted(phone for phone, _ in found) == [f"1380000{i:04d}" for i in range(0, 600, 2)]
    chunks = [statement for statement, _ in statements if statement.lstrip().startswith("SELECT")]
    assert len(chunks) == 3  # 1,100 distinct values: three chunks


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([header, *rows])
    return path


def test_a_group_of_updates_that_meets_a_concurrent_save_is_applied_again_row_by_row(
    engine, tmp_path, monkeypatch
):
    rows = [[f"g-{i}", f"Lead {i}", f"137{i:08d}"] for i in range(450)]
    import_file(engine, _write_csv(tmp_path / "a.csv", ["external_id", "name", "phone"], rows), actor=SYSTEM)
    original = importer._Importer._load_states
    bumped: list[int] = []

    def load_then_bump_once(self, ids):
        # The first time g-250 is read its version moves on, as if saved meanwhile: the group of 200
        # updates holding it fails its flush, is rolled back and its rows are applied one at a time.
        states = original(self, ids)
        if not bumped:
            bump = (
                update(Customer).where(Customer.external_id == "g-250").values(version=Customer.version + 1)
            )
            self.session.execute(bump, execution_options={"synchronize_session": False})
            bumped.append(1)
        return states

    monkeypatch.setattr(importer._Importer, "_load_states", load_then_bump_once)
    renamed = [[f"g-{i}", f"Renamed {i}" if i % 3 else f"Lead {i}"] for i in range(450)]

    report = import_file(
        engine, _write_csv(tmp_path / "b.csv", ["external_id", "name"], renamed), actor=SYSTEM
    )

    assert bumped == [1]
    assert (report.updated, report.unchanged, report.rejected) == (300, 150, [])
    with session_scope(engine) as s:
        names = dict(s.execute(select(Customer.external_id, Customer.name)).all())
    assert all(names[f"g-{i}"] == (f"Renamed {i}" if i % 3 else f"Lead {i}") for i in range(450))

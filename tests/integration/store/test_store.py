"""The store and the lead use cases, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import inspect, select, text

from funnel.access.permissions import SYSTEM
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.db import make_engine, schema_is_current, session_scope, upgrade
from funnel.core.errors import StaleEdit, ValidationError
from funnel.customers.stages import move_stage
from funnel.store.models import AuditLog, Contact, Customer, Opportunity, StageEvent

TABLES = {
    "customer", "contact", "stage_event", "activity", "task", "notification", "objection", "document",
    "opportunity", "contract", "payment", "survey", "user", "audit_log",
}  # fmt: skip


def test_the_migration_creates_every_table_of_the_data_model(engine):
    assert set(inspect(engine).get_table_names()) >= TABLES
    assert schema_is_current(engine)


def test_upgrading_twice_changes_nothing(engine):
    upgrade(engine)

    assert schema_is_current(engine)


def test_sqlite_runs_with_wal_foreign_keys_and_a_busy_timeout(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}", create=True)
    with engine.connect() as conn:
        pragmas = {
            name: conn.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout")
        }

    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30_000}


def test_sqlite_keeps_a_large_page_cache_and_maps_the_file_for_the_analytics_scans(tmp_path):
    from funnel.core.db import SQLITE_CACHE_KIB, SQLITE_MMAP_BYTES

    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}", create=True)
    with engine.connect() as conn:
        cache, mmap = (conn.execute(text(f"PRAGMA {name}")).scalar() for name in ("cache_size", "mmap_size"))

    assert (cache, mmap) == (-SQLITE_CACHE_KIB, SQLITE_MMAP_BYTES)
    assert SQLITE_CACHE_KIB >= 32 * 1024 and SQLITE_MMAP_BYTES >= 128 * 1024 * 1024


def test_a_file_far_larger_than_the_map_is_read_through_the_os_with_a_smaller_cache(tmp_path, monkeypatch):
    from funnel.core import db

    assert db.sqlite_read_settings(300 * 1024 * 1024) == (db.SQLITE_CACHE_KIB, db.SQLITE_MMAP_BYTES)  # 100k
    assert db.sqlite_read_settings(3 * 1024**3) == (db.SQLITE_LARGE_FILE_CACHE_KIB, 0)  # a million customers
    path = tmp_path / "big.db"
    first = make_engine(f"sqlite:///{path}", create=True)
    with first.connect() as conn:
        conn.execute(text("CREATE TABLE t (x)"))  # the file exists, a few KB
    first.dispose()
    monkeypatch.setattr(db, "SQLITE_MAPPED_FILE_LIMIT", 1)  # this small file now counts as large
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        cache, mmap = (conn.execute(text(f"PRAGMA {name}")).scalar() for name in ("cache_size", "mmap_size"))
    assert (cache, mmap) == (-db.SQLITE_LARGE_FILE_CACHE_KIB, 0)
    engine.dispose()


def test_creating_a_lead_stores_customer_contact_history_opportunity_and_audit(session):
    created = datetime(2026, 3, 1, 9, 0)
    customer = create_lead(
        session,
        LeadInput(
            name="王芳",
            company="杭州云帆",
            phone="+86 139-0000-1111",
            channel="官网",
            stage="需求確認",
            amount="50000",
            created_at=created,
            stage_dates={"contact": datetime(2026, 3, 1, 15, 0)},
        ),
        actor=SYSTEM,
    )
    session.commit()

    assert customer.customer_no.startswith("C260301")
    assert (customer.stage, customer.status) == ("qualify", "open")
    assert customer.first_contacted_at == datetime(2026, 3, 1, 15, 0)
    contact = session.scalars(select(Contact).where(Contact.customer_id == customer.id)).one()
    assert (contact.name, contact.phone, contact.is_primary) == ("王芳", "13900001111", True)
    events = session.scalars(
        select(StageEvent.to_stage).where(StageEvent.customer_id == customer.id).order_by(StageEvent.id)
    ).all()
    assert events == ["lead", "contact", "qualify"]
    assert session.scalars(select(Opportunity.amount)).one() == 50000
    audit = session.scalars(select(AuditLog)).one()
    assert (audit.action, audit.entity_id, audit.changes["name"]) == ("create", customer.id, [None, "王芳"])


def test_a_lead_without_any_way_to_reach_it_is_refused_naming_the_fields(session):
    with pytest.raises(ValidationError) as raised:
        create_lead(session, LeadInput(name="  ", phone="12345"), actor=SYSTEM)

    assert {(e.field, e.code) for e in raised.value.errors} == {
        ("name", "error.required"),
        ("phone", "error.phone_invalid"),
    }
    assert session.scalar(select(Customer.id)) is None


def test_a_second_lead_with_the_same_phone_is_a_duplicate_naming_the_first(session):
    first = create_lead(session, LeadInput(name="A", phone="13800138000"), actor=SYSTEM)

    with pytest.raises(ValidationError) as raised:
        create_lead(session, LeadInput(name="B", phone="+86 138 0013 8000"), actor=SYSTEM)

    assert raised.value.errors[0].code == "error.duplicate"
    assert raised.value.errors[0].params == {"customer_no": first.customer_no}


def test_moving_stages_records_events_first_contact_outcome_and_audit(session):
    customer = create_lead(
        session, LeadInput(name="A", email="a@x.cn", created_at=datetime(2026, 1, 1)), actor=SYSTEM
    )
    move_stage(session, customer_id=customer.id, to_stage="contact", at=datetime(2026, 1, 2), actor=SYSTEM)
    move_stage(
        session,
        customer_id=customer.id,
        to_stage="lost",
        lost_reason="price",
        at=datetime(2026, 1, 5),
        actor=SYSTEM,
    )
    session.commit()

    assert (customer.stage, customer.status, customer.lost_reason) == ("contact", "lost", "price")
    assert customer.first_contacted_at == datetime(2026, 1, 2)
    assert customer.closed_at == datetime(2026, 1, 5)
    moves = session.scalars(
        select(AuditLog).where(AuditLog.action == "stage_move").order_by(AuditLog.id)
    ).all()
    assert moves[-1].changes["status"] == ["open", "lost"]


def test_losing_a_customer_needs_a_reason(session):
    customer = create_lead(session, LeadInput(name="A", email="a@x.cn"), actor=SYSTEM)

    with pytest.raises(ValidationError, match="lost_reason"):
        move_stage(session, customer_id=customer.id, to_stage="lost", actor=SYSTEM)


def test_a_stale_edit_is_refused(engine):
    with session_scope(engine) as s:
        customer_id = create_lead(s, LeadInput(name="A", email="a@x.cn"), actor=SYSTEM).id
    with session_scope(engine) as s:
        loaded_version = s.get(Customer, customer_id).version
        move_stage(s, customer_id=customer_id, to_stage="contact", actor=SYSTEM)

    with pytest.raises(StaleEdit), session_scope(engine) as s:
        move_stage(
            s, customer_id=customer_id, to_stage="qualify", expected_version=loaded_version, actor=SYSTEM
        )


def test_an_older_database_is_brought_to_the_latest_migration_keeping_its_rows(db_url):
    from alembic import command

    from funnel.core.db import _alembic_config

    engine = make_engine(db_url, create=True)
    command.upgrade(_alembic_config(engine), "0001")
    with session_scope(engine) as s:
        s.execute(text("INSERT INTO customer (customer_no, name, stage, status, created_at, updated_at, version) "
                       "VALUES ('C0001', 'kept', 'lead', 'open', '2026-01-01', '2026-01-01', 1)"))  # fmt: skip
    assert "customer_share" not in inspect(engine).get_table_names()

    upgrade(engine)

    assert "customer_share" in inspect(engine).get_table_names()
    assert schema_is_current(engine)
    with session_scope(engine) as s:
        assert s.scalars(select(Customer.name)).all() == ["kept"]
    engine.dispose()

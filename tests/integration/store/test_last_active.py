"""customer.last_active_at is kept by every write path and equals a recount of the activities and stage
events (funnel.store.last_active), on each backend; `check` finds and repairs a difference; the migration
fills it."""

from __future__ import annotations

from datetime import datetime, timedelta

from alembic import command
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM
from funnel.capture.importer import import_rows
from funnel.capture.leads import LeadInput, create_lead
from funnel.closing.archive import restore_customer
from funnel.core.db import _alembic_config, make_engine, upgrade
from funnel.customers.edit import delete_customer
from funnel.customers.stages import move_stage
from funnel.store.last_active import last_active_differences, recount_last_active
from funnel.store.models import Activity, Customer, DeletedCustomer
from funnel.working.activities import log_activity

T0 = datetime(2026, 3, 2, 9)


def _stored(session: Session, customer_id: int) -> datetime | None:
    session.expire_all()
    return session.scalar(select(Customer.last_active_at).where(Customer.id == customer_id))


def _lead(session: Session, name: str = "A", **fields: object) -> int:
    customer = create_lead(session, LeadInput(name=name, email=f"{name}@x.cn", **fields), actor=SYSTEM)
    session.commit()
    return customer.id


def test_a_new_lead_is_active_when_it_was_created(session):
    customer_id = _lead(session, created_at=T0)
    assert _stored(session, customer_id) == T0


def test_an_activity_moves_it_forward_and_an_earlier_one_does_not_move_it_back(session):
    customer_id = _lead(session, created_at=T0)

    def call(at: datetime) -> None:
        log_activity(
            session,
            actor=SYSTEM,
            customer_id=customer_id,
            kind="call",
            at=at,
            note="n",
            now=T0 + timedelta(days=5),
        )
        session.commit()

    call(T0 + timedelta(days=3))
    assert _stored(session, customer_id) == T0 + timedelta(days=3)
    call(T0 + timedelta(days=1))
    assert _stored(session, customer_id) == T0 + timedelta(days=3)
    assert last_active_differences(session) == []


def test_a_customer_object_in_the_session_sees_the_new_time(session):
    customer_id = _lead(session, created_at=T0)
    customer = session.get(Customer, customer_id)
    version = customer.version
    session.add(Activity(customer_id=customer_id, kind="note", at=T0 + timedelta(hours=2)))
    session.flush()
    assert customer.last_active_at == T0 + timedelta(hours=2)
    assert customer not in session.dirty
    session.commit()
    # A Core update, not an attribute change: it does not make an open form of the customer stale.
    assert _stored(session, customer_id) == T0 + timedelta(hours=2)
    assert session.get(Customer, customer_id).version == version


def test_a_stage_move_moves_it(session):
    customer_id = _lead(session, created_at=T0)
    moved_at = T0 + timedelta(days=2)
    move_stage(session, customer_id=customer_id, to_stage="contacted", actor=SYSTEM, at=moved_at)
    session.commit()
    assert _stored(session, customer_id) == moved_at
    assert last_active_differences(session) == []


def test_imported_rows_carry_their_latest_stage_date(session):
    rows = [
        {"name": "Imp", "email": "imp@x.cn", "created_at": "2026-01-05", "stage": "contacted",
         "contacted_at": "2026-01-09"},
    ]  # fmt: skip
    report = import_rows(session, rows, actor=SYSTEM)
    session.commit()
    assert report.created == 1, report
    assert last_active_differences(session) == []
    stored = session.scalar(select(Customer.last_active_at).where(Customer.name == "Imp"))
    assert stored is not None and stored.date().isoformat() == "2026-01-09"


def test_a_restored_customer_is_recounted(session):
    customer_id = _lead(session, created_at=T0)
    log_activity(
        session, actor=SYSTEM, customer_id=customer_id, kind="call", at=T0 + timedelta(days=1), note="n"
    )
    session.commit()
    delete_customer(session, actor=SYSTEM, customer_id=customer_id)
    session.commit()
    record = session.scalars(select(DeletedCustomer)).one()
    # A snapshot taken before the column existed holds no last_active_at: the restore recounts it.
    record.rows = {**record.rows, "customer": [{k: v for k, v in record.rows["customer"][0].items()
                                                if k != "last_active_at"}]}  # fmt: skip
    session.commit()
    restore_customer(session, actor=SYSTEM, deleted_id=record.id)
    session.commit()
    assert _stored(session, customer_id) == T0 + timedelta(days=1)
    assert last_active_differences(session) == []


def test_check_finds_a_stale_time_and_the_recount_repairs_it(session):
    a, b = _lead(session, "A", created_at=T0), _lead(session, "B", created_at=T0)
    session.execute(update(Customer).where(Customer.id == a).values(last_active_at=None))
    session.execute(update(Customer).where(Customer.id == b).values(last_active_at=T0 - timedelta(days=9)))
    session.commit()
    found = last_active_differences(session)
    assert [(d.customer_id, d.stored, d.expected) for d in found] == [
        (a, None, T0),
        (b, T0 - timedelta(days=9), T0),
    ]
    recount_last_active(session, [d.customer_id for d in found])
    session.commit()
    assert last_active_differences(session) == []


def test_the_migration_fills_it_from_the_history(db_url):
    engine = make_engine(db_url, create=True)
    command.upgrade(_alembic_config(engine), "0026")
    with engine.begin() as conn:
        conn.execute(
            text("""INSERT INTO customer (id, customer_no, name, stage, status, furthest_stage, created_at,
                                          updated_at, version)
                    VALUES (1, 'C1', 'A', 'contacted', 'open', 'contacted', '2026-01-01', '2026-01-01', 1),
                           (2, 'C2', 'B', 'lead', 'open', 'lead', '2026-01-01', '2026-01-01', 1),
                           (3, 'C3', 'C', 'lead', 'open', 'lead', '2026-01-01', '2026-01-01', 1)""")
        )
        conn.execute(
            text("""INSERT INTO stage_event (customer_id, from_stage, to_stage, at)
                    VALUES (1, NULL, 'lead', '2026-01-01 09:00:00'), (1, 'lead', 'contacted', '2026-01-04 09:00:00'),
                           (2, NULL, 'lead', '2026-01-02 09:00:00')""")
        )
        conn.execute(
            text("""INSERT INTO activity (customer_id, kind, at)
                    VALUES (1, 'call', '2026-01-03 09:00:00'), (2, 'call', '2026-01-06 09:00:00')""")
        )
    upgrade(engine)
    with engine.connect() as conn:
        stored = dict(conn.execute(select(Customer.id, Customer.last_active_at).order_by(Customer.id)).all())
    assert stored == {1: datetime(2026, 1, 4, 9), 2: datetime(2026, 1, 6, 9), 3: None}
    engine.dispose()

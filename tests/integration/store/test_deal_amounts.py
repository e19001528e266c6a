"""customer.opportunity_amount and signed_amount are kept by every write path and equal a recount of the
opportunities and signed contracts (funnel.store.deal_amounts), on each backend; `check` finds and
repairs a difference; the migration fills them."""

from __future__ import annotations

from decimal import Decimal

from alembic import command
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM
from funnel.capture.importer import import_rows
from funnel.capture.leads import LeadInput, create_lead
from funnel.cli.main import main
from funnel.closing.archive import restore_customer
from funnel.closing.contracts import create_contract, sign_contract
from funnel.closing.opportunities import save_opportunity
from funnel.core.db import _alembic_config, make_engine, session_scope, upgrade
from funnel.customers.edit import delete_customer
from funnel.store.deal_amounts import deal_amount_differences, recount_deal_amounts
from funnel.store.models import Customer, DeletedCustomer, Opportunity


def _stored(session: Session, customer_id: int) -> tuple[Decimal | None, Decimal | None]:
    session.expire_all()
    row = session.execute(
        select(Customer.opportunity_amount, Customer.signed_amount).where(Customer.id == customer_id)
    ).one()
    return (None if row[0] is None else Decimal(row[0]), None if row[1] is None else Decimal(row[1]))


def _lead(session: Session, name: str = "A", **fields: object) -> int:
    customer = create_lead(session, LeadInput(name=name, email=f"{name}@x.cn", **fields), actor=SYSTEM)
    session.commit()
    return customer.id


def _opportunity(session: Session, customer_id: int, amount: str, opportunity_id: int | None = None) -> int:
    row = save_opportunity(
        session,
        actor=SYSTEM,
        customer_id=customer_id,
        values={"amount": amount},
        opportunity_id=opportunity_id,
    )
    session.commit()
    return row.id


def test_a_lead_without_a_deal_has_none_and_one_with_an_amount_has_it(session):
    assert _stored(session, _lead(session, "A")) == (None, None)
    assert _stored(session, _lead(session, "B", amount="1200.50")) == (Decimal("1200.50"), None)


def test_opportunities_added_edited_and_deleted_move_the_sum(session):
    customer_id = _lead(session)
    first = _opportunity(session, customer_id, "1000")
    _opportunity(session, customer_id, "250.25")
    assert _stored(session, customer_id) == (Decimal("1250.25"), None)
    _opportunity(session, customer_id, "2000", opportunity_id=first)
    assert _stored(session, customer_id) == (Decimal("2250.25"), None)
    session.delete(session.get(Opportunity, first))
    session.commit()
    assert _stored(session, customer_id) == (Decimal("250.25"), None)
    assert deal_amount_differences(session) == []


def test_an_opportunity_moved_to_another_customer_leaves_the_first_one_and_joins_the_second(session):
    a, b = _lead(session, "A"), _lead(session, "B")
    moved = session.get(Opportunity, _opportunity(session, a, "700"))
    moved.customer_id = b
    session.commit()
    assert _stored(session, a) == (None, None)
    assert _stored(session, b) == (Decimal("700.00"), None)


def test_only_a_signed_contract_counts_and_a_customer_object_in_the_session_sees_it(session):
    customer_id = _lead(session)
    _opportunity(session, customer_id, "1000")
    customer = session.get(Customer, customer_id)
    contract = create_contract(session, actor=SYSTEM, customer_id=customer_id, amount="900")
    session.commit()
    assert _stored(session, customer_id) == (Decimal("1000.00"), None)  # a draft is not signed business
    customer = session.get(Customer, customer_id)
    sign_contract(session, actor=SYSTEM, contract=contract)
    session.flush()
    assert customer.signed_amount == Decimal("900")  # refreshed in the session, not only in the table
    version = customer.version
    session.commit()
    assert _stored(session, customer_id) == (Decimal("1000.00"), Decimal("900.00"))
    assert session.get(Customer, customer_id).version >= version
    assert deal_amount_differences(session) == []


def test_imported_rows_with_amounts_carry_their_sum(session):
    rows = [
        {"name": "New", "email": "n@x.cn", "amount": "3000"},
        {"name": "Plain", "email": "p@x.cn"},
    ]
    import_rows(session, rows, actor=SYSTEM)
    session.commit()
    stored = dict(session.execute(select(Customer.name, Customer.opportunity_amount)).all())
    assert {name: None if v is None else Decimal(v) for name, v in stored.items()} == {
        "New": Decimal("3000.00"),
        "Plain": None,
    }
    assert deal_amount_differences(session) == []


def test_a_restored_customer_is_recounted(session):
    customer_id = _lead(session)
    _opportunity(session, customer_id, "640")
    delete_customer(session, actor=SYSTEM, customer_id=customer_id)
    session.commit()
    record = session.scalars(select(DeletedCustomer)).one()
    # A snapshot taken before the columns existed holds no sums: the restore recounts them.
    kept = {
        k: v
        for k, v in record.rows["customer"][0].items()
        if k not in ("opportunity_amount", "signed_amount")
    }
    record.rows = {**record.rows, "customer": [kept]}
    session.commit()
    restore_customer(session, actor=SYSTEM, deleted_id=record.id)
    session.commit()
    assert _stored(session, customer_id) == (Decimal("640.00"), None)


def test_check_finds_a_stale_sum_and_fix_repairs_it(engine, capsys):
    with session_scope(engine) as session:
        a, b = _lead(session, "A", amount="100"), _lead(session, "B")
        session.execute(update(Customer).where(Customer.id == a).values(opportunity_amount=None))
        session.execute(update(Customer).where(Customer.id == b).values(signed_amount=Decimal("5")))
    with session_scope(engine) as session:
        found = deal_amount_differences(session)
        assert [(d.customer_id, d.stored, d.expected) for d in found] == [
            (a, (None, None), (Decimal("100.00"), None)),
            (b, (None, Decimal("5.00")), (None, None)),
        ]
    assert main(["check"]) == 1
    assert "2 customers' deal sums differ" in capsys.readouterr().out
    assert main(["check", "--fix"]) == 1
    assert main(["check"]) == 0
    with session_scope(engine) as session:
        assert deal_amount_differences(session) == []
        recount_deal_amounts(session)  # the whole table: the same values
        assert deal_amount_differences(session) == []


def test_the_migration_fills_them_from_the_deals(db_url):
    engine = make_engine(db_url, create=True)
    command.upgrade(_alembic_config(engine), "0028")
    with engine.begin() as conn:
        conn.execute(
            text("""INSERT INTO customer (id, customer_no, name, stage, status, furthest_stage, created_at,
                                          updated_at, version)
                    VALUES (1, 'C1', 'A', 'won', 'won', 'won', '2026-01-01', '2026-01-01', 1),
                           (2, 'C2', 'B', 'lead', 'open', 'lead', '2026-01-01', '2026-01-01', 1)""")
        )
        conn.execute(
            text("""INSERT INTO opportunity (customer_id, amount, created_at)
                    VALUES (1, 1000, '2026-01-02'), (1, 500.5, '2026-01-03')""")
        )
        conn.execute(
            text("""INSERT INTO contract (customer_id, amount, status, created_at)
                    VALUES (1, 1200, 'signed', '2026-01-04'), (1, 99, 'draft', '2026-01-04')""")
        )
    upgrade(engine)
    with engine.connect() as conn:
        stored = conn.execute(
            select(Customer.id, Customer.opportunity_amount, Customer.signed_amount).order_by(Customer.id)
        ).all()
    assert [(i, o and Decimal(o), s and Decimal(s)) for i, o, s in stored] == [
        (1, Decimal("1500.50"), Decimal("1200.00")),
        (2, None, None),
    ]
    engine.dispose()

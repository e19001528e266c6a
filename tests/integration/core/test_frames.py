"""read_frame: every row, typed, whatever the chunk size, and the same answer as the ORM read."""

from __future__ import annotations

import gc
from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import select

from funnel.access.permissions import SYSTEM
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.frames import empty_frame, read_frame
from funnel.store.models import Customer, Opportunity

COLUMNS = {
    "id": "int",
    "name": "str",
    "company": "str",
    "amount": "float",
    "close": "datetime",
    "made": "datetime",
}


def _seed(session) -> list[int]:
    ids = []
    for n, (name, company) in enumerate(
        [("张伟", "100% 纯净 O'Brien"), ("Li", None), ("王芳", "Acme"), ("Zed", "Z")]
    ):
        lead = create_lead(session, LeadInput(name=name, company=company, email=f"f{n}@x.cn"), actor=SYSTEM)
        ids.append(lead.id)
    amounts = [Decimal("12.50"), Decimal("0"), Decimal("99999999.99"), Decimal("3")]
    closes = [date(2026, 1, 5), None, date(2027, 12, 31), None]
    made = [
        datetime(2026, 1, 1, 9, 30),
        datetime(2026, 1, 1, 9, 30, 0, 125),
        datetime(2025, 6, 1),
        datetime(2026, 2, 2),
    ]
    for n, (customer_id, amount, close, at) in enumerate(zip(ids, amounts, closes, made, strict=True)):
        opportunity = Opportunity(customer_id=customer_id, amount=amount, expected_close=close, created_at=at)
        opportunity.external_id = f"t{n}"
        session.add(opportunity)
    session.flush()
    return ids


def _query(*conditions):
    query = select(
        Customer.id,
        Customer.name,
        Customer.company,
        Opportunity.amount,
        Opportunity.expected_close,
        Opportunity.created_at,
    ).join(Opportunity, Opportunity.customer_id == Customer.id)
    # Only the opportunities made here (a lead may come with a deal of its own).
    return query.where(Opportunity.external_id.is_not(None), *conditions).order_by(Customer.id)


@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_every_row_arrives_typed_and_equal_to_the_orm_read_at_any_chunk_size(session, chunk):
    _seed(session)
    frame = read_frame(session, _query(), COLUMNS, chunk=chunk)
    expected = pd.DataFrame(list(map(tuple, session.execute(_query()))), columns=list(COLUMNS))
    assert len(frame) == 4
    assert frame["id"].dtype == "int64" and frame["amount"].dtype == "float64"
    assert frame["close"].dtype == "datetime64[us]" and frame["made"].dtype == "datetime64[us]"
    assert frame["id"].tolist() == expected["id"].tolist()
    assert frame["name"].tolist() == expected["name"].tolist()
    assert frame["company"].isna().tolist() == [False, True, False, False]
    assert frame["company"].iloc[0] == "100% 纯净 O'Brien"
    assert frame["amount"].tolist() == [float(a) for a in expected["amount"]]
    assert frame["close"].iloc[0] == pd.Timestamp("2026-01-05") and pd.isna(frame["close"].iloc[1])
    assert frame["made"].tolist() == [pd.Timestamp(m) for m in expected["made"]]
    assert frame["made"].iloc[1] == pd.Timestamp(datetime(2026, 1, 1, 9, 30, 0, 125))


def test_bound_values_quotes_and_percent_signs_reach_the_database_as_written(session):
    _seed(session)
    wanted = [
        Customer.company.like("100%"),  # no match: the pattern has no wildcard after the literal text
        Customer.company == "100% 纯净 O'Brien",
        Opportunity.created_at >= datetime(2026, 1, 1, 9, 30, 0, 125),
    ]
    assert read_frame(session, _query(wanted[0]), COLUMNS)["name"].tolist() == ["张伟"]
    assert read_frame(session, _query(wanted[1]), COLUMNS)["name"].tolist() == ["张伟"]
    # A datetime bound compares as the ORM stores it (SQLite: text with microseconds).
    later = read_frame(session, _query(wanted[2]), COLUMNS)
    assert later["name"].tolist() == ["Li", "Zed"]


def test_categories_from_different_chunks_are_joined_and_an_empty_result_keeps_its_columns(session):
    _seed(session)
    query = select(Customer.id, Customer.name).order_by(Customer.id)
    frame = read_frame(session, query, {"id": "int", "name": "category"}, chunk=1)
    assert isinstance(frame["name"].dtype, pd.CategoricalDtype)
    assert frame["name"].astype(str).tolist() == ["张伟", "Li", "王芳", "Zed"]
    empty = read_frame(session, _query(Customer.id < 0), COLUMNS)
    assert list(empty.columns) == list(COLUMNS) and len(empty) == 0
    assert empty["made"].dtype == "datetime64[us]"
    assert (empty.dtypes == empty_frame(COLUMNS).dtypes).all()  # the shape a caller makes without a query


def test_the_garbage_collector_is_on_again_after_a_read_even_a_failing_one(session):
    _seed(session)
    read_frame(session, _query(), COLUMNS)
    assert gc.isenabled()
    with pytest.raises(ValueError):
        read_frame(session, _query(), {"id": "int", "name": "int"})  # a name is not an integer
    assert gc.isenabled()

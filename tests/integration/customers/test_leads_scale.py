"""The leads list and search at scale (issue #12): opt-in, against a database you built.

    CRM_SCALE_LEADS_DB=sqlite:////path/to/1m.db .venv/bin/python -m pytest -s \
        tests/integration/customers/test_leads_scale.py

Build a million customers with `python -m funnel demo --leads 100000 --seed 1` and
`benchmarks.funnel_bench.replicate(engine, 10)`, then `python -m funnel init-db` (the database must be at
the current migration: this test does not upgrade it). It prints the median of five runs of every query
the leads page issues and holds the search to the issue's 300 ms.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from funnel.access.permissions import SYSTEM, Actor
from funnel.core.db import make_engine, session_factory
from funnel.customers.read import LeadFilters, count_customers, list_customers
from funnel.store.models import Contact, Customer, CustomerShare, User

URL = os.environ.get("CRM_SCALE_LEADS_DB")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(3600),  # the plain LIKE search it replaces takes seconds a query
    pytest.mark.skipif(not URL, reason="set CRM_SCALE_LEADS_DB to a database URL of ~1M customers"),
]
RUNS = 5
SEARCH_TARGET_S = 0.3
PAGE = 100


def median_seconds(work: Callable[[], Any]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def test_the_leads_search_and_list_at_scale():
    assert URL
    engine = make_engine(URL)
    with session_factory(engine)() as session:
        total = session.scalar(select(func.count()).select_from(Customer))
        # A customer in the middle of the ids with a Chinese mobile (the demo's Chinese leads): a rep pastes it.
        middle = session.scalar(select(func.max(Customer.id))) // 2
        wanted, phone = session.execute(
            select(Customer, Contact.phone)
            .join(Contact, Contact.customer_id == Customer.id)
            .where(Customer.id >= middle, Contact.phone.like("13%"))
            .order_by(Customer.id)
            .limit(1)
        ).one()
        rep = session.scalars(select(User).where(User.role == "rep").order_by(User.id)).first()
        assert rep is not None
        if session.get(CustomerShare, (wanted.id, rep.id)) is None and wanted.owner_id != rep.id:
            session.add(CustomerShare(customer_id=wanted.id, user_id=rep.id))
            session.commit()
        as_rep = Actor.of(rep)
        spaced = f"{phone[:3]} {phone[3:7]} {phone[7:]}"
        searches = {
            "search: whole phone, typed with spaces": spaced,
            "search: part of a phone": phone[-7:],
            "search: customer number": wanted.customer_no,
            "search: customer number, lower case": wanted.customer_no.lower(),
            "search: name (contains)": wanted.name,
            "search: company (contains)": (wanted.company or wanted.name)[2:8],
            "search: nothing found": "无此人无此公司",
        }
        queries: dict[str, Callable[[], Any]] = {}
        for label, typed in searches.items():
            queries[f"{label} [{typed}] page"] = lambda typed=typed: list_customers(
                session, actor=SYSTEM, search=typed, limit=PAGE
            )
            queries[f"{label} [{typed}] count"] = lambda typed=typed: count_customers(
                session, actor=SYSTEM, search=typed
            )
        queries["search: one character, page [张]"] = lambda: list_customers(
            session, actor=SYSTEM, search="张", limit=PAGE
        )
        for sort in ("newest", "score", "win_probability", "last_activity"):
            queries[f"list: first page by {sort}"] = lambda sort=sort: list_customers(
                session, actor=SYSTEM, limit=PAGE, sort=sort
            )
        queries["list: stage filter"] = lambda: list_customers(
            session, actor=SYSTEM, limit=PAGE, filters=LeadFilters(stages=("proposal",))
        )
        queries["rep: first page (own or shared)"] = lambda: list_customers(session, actor=as_rep, limit=PAGE)
        queries["rep: count (own or shared)"] = lambda: count_customers(session, actor=as_rep)
        queries["rep: search a shared customer's number"] = lambda: list_customers(
            session, actor=as_rep, search=wanted.customer_no, limit=PAGE
        )
        print(f"\n{engine.dialect.name}, {total:,} customers, median of {RUNS} (ms):")
        timings = {}
        for label, work in queries.items():
            timings[label] = median_seconds(work)
            print(f"  {timings[label] * 1000:9.1f}  {label}", flush=True)
        found = list_customers(session, actor=SYSTEM, search=spaced, limit=PAGE)
        shared = list_customers(session, actor=as_rep, search=wanted.customer_no, limit=PAGE)
    engine.dispose()

    assert wanted.id in set(found["id"])
    assert list(shared["id"]) == [wanted.id]
    slow = {
        label: round(seconds, 3)
        for label, seconds in timings.items()
        if label.startswith("search:") and "one character" not in label and seconds > SEARCH_TARGET_S
    }
    assert slow == {}, f"searches over {SEARCH_TARGET_S * 1000:.0f} ms at {total:,} customers"

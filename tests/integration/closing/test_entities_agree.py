"""The data factory's three views agree: the report's `entities` (report --format json), `export merged`
(the command) and the dashboard's entity funnel (funnel.analytics.rollups.entity_funnel) give the same
counts and amounts, for one customer taken through opportunity -> contract -> payment and for a demo
database (issue 10, "Done when")."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import Engine

from funnel.access.permissions import SYSTEM, Actor
from funnel.analytics.rollups import entity_funnel
from funnel.cli.main import main
from funnel.closing import contracts, opportunities, payments
from funnel.core.db import session_scope
from funnel.demo.generate import generate_demo
from funnel.store.models import User
from tests.integration.closing.helpers import customer

Views = tuple[dict[str, float | int], dict[str, float | int], dict[str, float | int]]


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    assert main([*args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def three_views(engine: Engine, capsys: pytest.CaptureFixture[str], actor: Actor = SYSTEM) -> Views:
    """(report entities, merged export summed, entity funnel) in the report's names."""
    report = run_json(capsys, "report")
    assert isinstance(report, dict)
    rows = run_json(capsys, "export", "merged")
    assert isinstance(rows, list)
    merged = {
        "customers": len(rows),
        "with_opportunity": sum(1 for r in rows if r["opportunities"] > 0),
        "with_contract": sum(1 for r in rows if r["contracts"] > 0),
        "with_payment": sum(1 for r in rows if r["paid_amount"] > 0),
        "opportunity_amount": round(sum(r["opportunity_amount"] for r in rows), 2),
        "contract_amount": round(sum(r["contract_amount"] for r in rows), 2),
        "paid_amount": round(sum(r["paid_amount"] for r in rows), 2),
    }
    with session_scope(engine) as session:
        funnel = entity_funnel(session, actor=actor).set_index("step")
    dashboard = {
        "customers": int(funnel.loc["customers", "customers"]),
        "with_opportunity": int(funnel.loc["opportunities", "customers"]),
        "with_contract": int(funnel.loc["contracts", "customers"]),
        "with_payment": int(funnel.loc["payments", "customers"]),
        "opportunity_amount": round(float(funnel.loc["opportunities", "amount"]), 2),
        "contract_amount": round(float(funnel.loc["contracts", "amount"]), 2),
        "paid_amount": round(float(funnel.loc["payments", "amount"]), 2),
    }
    return report["entities"], merged, dashboard


def through_to_cash(engine: Engine) -> int:
    """A customer with an opportunity, a signed contract and a first payment; and a bare lead beside it."""
    with session_scope(engine) as session:
        rep = User(username="rep", display_name="Rep", role="rep")
        manager = User(username="boss", display_name="Boss", role="manager")
        finance = User(username="cash", display_name="Cash", role="delivery")
        session.add_all([rep, manager, finance])
        session.flush()
        deal = customer(session, rep)
        customer(session, rep)
        opportunities.save_opportunity(
            session,
            actor=Actor.of(rep),
            customer_id=deal.id,
            values={"amount": "120000", "expected_close": date(2026, 12, 31), "name": "ERP"},
        )
        draft = contracts.create_contract(session, actor=Actor.of(rep), customer_id=deal.id, amount="100000")
        contracts.submit_contract(session, actor=Actor.of(rep), contract_id=draft.id)
        contracts.approve_contract(session, actor=Actor.of(manager), contract_id=draft.id)
        payments.record_payment(session, actor=Actor.of(finance), contract_id=draft.id, amount="40000.50")
        return deal.id


def test_one_customer_through_to_cash_is_counted_alike_by_the_three_views(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    through_to_cash(engine)

    report, merged, dashboard = three_views(engine, capsys)

    assert report == {
        "customers": 2,
        "with_opportunity": 1,
        "with_contract": 1,
        "with_payment": 1,
        "opportunity_amount": 120000.0,
        "contract_amount": 100000.0,
        "paid_amount": 40000.5,
    }
    assert merged == report
    assert dashboard == report


def test_a_contract_not_yet_signed_counts_nowhere(engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    through_to_cash(engine)
    with session_scope(engine) as session:
        rep = session.query(User).filter_by(username="rep").one()
        waiting = customer(session, rep)
        contracts.create_contract(session, actor=Actor.of(rep), customer_id=waiting.id, amount="7000")

    report, merged, dashboard = three_views(engine, capsys)

    assert report["with_contract"] == 1 and report["contract_amount"] == 100000.0
    assert merged == report
    assert dashboard == report


def test_a_demo_database_is_counted_alike_by_the_three_views(
    engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    generate_demo(engine, leads=300, seed=1, anchor=date(2026, 11, 30), actor=SYSTEM)

    report, merged, dashboard = three_views(engine, capsys)

    assert report["customers"] == 300
    assert 0 < report["with_payment"] <= report["with_contract"] <= report["with_opportunity"] < 300
    assert report["paid_amount"] <= report["contract_amount"]
    assert merged == report
    assert dashboard == report


def test_the_customers_timeline_holds_the_closing_steps(engine: Engine) -> None:
    from funnel.customers.guidance import customer_timeline

    deal_id = through_to_cash(engine)
    with session_scope(engine) as session:
        kinds = [e.kind for e in customer_timeline(session, actor=SYSTEM, customer_id=deal_id)]
    assert {"contract", "contract_signed", "payment"} <= set(kinds), kinds

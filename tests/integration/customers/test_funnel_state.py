"""The stored funnel state equals a recount of the stage history after every write path, and `check` says so."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM
from funnel.capture.importer import import_file
from funnel.capture.leads import LeadInput, create_lead
from funnel.cli.main import main
from funnel.core.db import session_scope
from funnel.core.errors import ValidationError
from funnel.customers.edit import update_customer
from funnel.customers.recount import funnel_differences
from funnel.customers.stages import move_stage
from funnel.demo.generate import generate_demo
from funnel.store.models import Customer


def _differences(session: Session) -> list[str]:
    return [d.customer_no for d in funnel_differences(session, actor=SYSTEM)]


def test_every_move_keeps_the_stored_state_equal_to_a_recount(session):
    customer = create_lead(session, LeadInput(name="Acme", email="a@x.cn", stage="qualify"), actor=SYSTEM)
    assert (customer.furthest_stage, customer.won_at, customer.lost_at) == ("qualify", None, None)
    moves = [("contact", None), ("lost", "price"), ("proposal", None), ("closing", None), ("won", None)]
    for n, (to, reason) in enumerate(moves):
        at = datetime(2026, 3, 1 + n)
        reopen = "came_back" if to == "proposal" else None  # moving a lost customer back reopens it
        move_stage(
            session, customer_id=customer.id, to_stage=to, actor=SYSTEM, lost_reason=reason, at=at,
            reopen_reason=reopen,
        )  # fmt: skip
        assert _differences(session) == [], to
    # Moving back to contact kept qualify as the furthest stage; the win is final and dated.
    assert (customer.furthest_stage, customer.won_at, customer.lost_at) == ("won", datetime(2026, 3, 5), None)
    assert customer.closed_at == datetime(2026, 3, 5)


def test_a_reopened_lost_customer_is_no_longer_lost(session):
    customer = create_lead(session, LeadInput(name="Acme", email="a@x.cn"), actor=SYSTEM)
    move_stage(session, customer_id=customer.id, to_stage="lost", lost_reason="没有预算", actor=SYSTEM)
    assert customer.lost_at is not None and customer.lost_reason == "no_budget"  # a name finds its code
    move_stage(session, customer_id=customer.id, to_stage="contact", actor=SYSTEM, reopen_reason="预算已批")
    assert (customer.status, customer.lost_at, customer.closed_at, customer.furthest_stage) == (
        "open", None, None, "contact",
    )  # fmt: skip
    assert _differences(session) == []


def test_new_leads_of_every_kind_are_stored_with_their_state(session):
    dates = {"contact": datetime(2026, 1, 2), "won": datetime(2026, 2, 1)}
    won = create_lead(
        session, LeadInput(name="W", email="w@x.cn", status="won", stage_dates=dates,
                           created_at=datetime(2026, 1, 1)), actor=SYSTEM,
    )  # fmt: skip
    lost = create_lead(
        session, LeadInput(name="L", email="l@x.cn", stage="proposal", status="lost"), actor=SYSTEM
    )
    update_customer(
        session, actor=SYSTEM, customer_id=lost.id, changes={"company": "X"}, expected_version=lost.version
    )
    assert (won.furthest_stage, won.won_at, won.first_contacted_at) == ("won", dates["won"], dates["contact"])
    assert (lost.furthest_stage, lost.stage, lost.lost_at is not None) == ("proposal", "proposal", True)
    assert _differences(session) == []


def test_an_import_and_a_reimport_keep_the_state(engine, tmp_path: Path):
    path = tmp_path / "leads.csv"
    rows = [
        ["external_id", "name", "email", "stage", "status", "contact_at", "won_at"],
        ["e1", "A", "a@x.cn", "qualify", "", "2026-01-02", ""],
        ["e2", "B", "b@x.cn", "", "won", "2026-01-02", "2026-02-02"],
        ["e3", "C", "c@x.cn", "proposal", "lost", "", ""],
    ]
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    import_file(engine, path, actor=SYSTEM)
    rows[1][3] = "closing"  # the next export shows A further on
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    import_file(engine, path, actor=SYSTEM)
    with session_scope(engine) as s:
        assert _differences(s) == []
        stored = dict(s.execute(select(Customer.external_id, Customer.furthest_stage)).all())
    assert stored == {"e1": "closing", "e2": "won", "e3": "proposal"}


def test_the_demo_is_stored_with_its_state(engine):
    generate_demo(engine, leads=300, seed=7, anchor=date(2026, 6, 1), actor=SYSTEM)
    with session_scope(engine) as s:
        assert _differences(s) == []


def test_check_reports_a_difference_and_fix_repairs_it(engine, capsys):
    with session_scope(engine) as s:
        customer = create_lead(s, LeadInput(name="A", email="a@x.cn", stage="proposal"), actor=SYSTEM)
        number = customer.customer_no
    assert main(["check"]) == 0
    assert "0 differences" in capsys.readouterr().out
    with session_scope(engine) as s:  # someone writes past the write path
        s.execute(update(Customer).values(furthest_stage="lead"))

    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert f"{number}: stored furthest lead, history says furthest proposal" in out
    assert main(["check", "--fix"]) == 1
    assert main(["check"]) == 0


@pytest.mark.parametrize("field", ["name", "company", "channel", "region", "industry", "tags"])
def test_over_long_text_is_refused_on_its_field_on_every_path(session, field):
    # On PostgreSQL a value longer than the column fails the whole save; every path checks it first.
    too_long = "x" * 501
    with pytest.raises(ValidationError) as caught:
        values = {"name": "A", "email": "a@x.cn", field: too_long}
        create_lead(session, LeadInput(**values), actor=SYSTEM)  # type: ignore[arg-type]
    assert [(e.field, e.code) for e in caught.value.errors] == [(field, "error.too_long")]
    customer = create_lead(session, LeadInput(name="A", email="a@x.cn"), actor=SYSTEM)
    session.flush()
    with pytest.raises(ValidationError) as caught:
        update_customer(session, actor=SYSTEM, customer_id=customer.id, changes={field: too_long},
                        expected_version=customer.version)  # fmt: skip
    assert [(e.field, e.code) for e in caught.value.errors] == [(field, "error.too_long")]


def test_a_201_character_company_gets_a_message_on_the_company_field(session):
    with pytest.raises(ValidationError) as caught:
        create_lead(session, LeadInput(name="A", email="a@x.cn", company="公" * 201), actor=SYSTEM)
    error = caught.value.errors[0]
    assert (error.field, error.code, error.params["max"]) == ("company", "error.too_long", "200")

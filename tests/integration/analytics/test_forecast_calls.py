"""A rep's forecast call: moves a deal between categories as of the day it was made, audited, checked."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM, Actor
from funnel.analytics.forecast import build_forecast, category_totals
from funnel.analytics.forecast_overrides import current_calls, set_forecast_call
from funnel.core.errors import PermissionDenied, ValidationError
from funnel.store.models import AuditLog
from tests.integration.analytics.test_forecast import D, deal, journey


def _totals(session: Session, as_of: date) -> dict[str, tuple[int, float]]:
    result = build_forecast(session, actor=SYSTEM, as_of=as_of, weeks=2, window_days=90)
    frame = category_totals(result.deals, commit_percent=70, best_case_percent=40)
    return {row.category: (int(row.deals), float(row.amount)) for row in frame.itertuples()}


def test_a_call_moves_the_deal_from_the_day_it_was_made_and_clearing_it_moves_it_back(
    session: Session, role_users
) -> None:
    rep = role_users["rep"]
    created = D(2026, 3, 2)
    customer = journey(session, ("lead", created))  # a lead's default P(win) puts it in pipeline
    customer.owner_id = rep.id
    deal(session, customer, 80_000, date(2026, 4, 20), created)
    before = _totals(session, date(2026, 4, 1))
    assert before["pipeline"] == (1, 80_000.0) and before["commit"] == (0, 0.0)

    set_forecast_call(session, actor=Actor.of(rep), customer_id=customer.id, category="commit",
                      note="signs after the board meeting", now=datetime(2026, 4, 3, 10))  # fmt: skip
    assert _totals(session, date(2026, 4, 1))["commit"] == (0, 0.0)  # as of before the call: unchanged
    after = _totals(session, date(2026, 4, 3))
    assert after["commit"] == (1, 80_000.0) and after["pipeline"] == (0, 0.0)
    forecast = build_forecast(session, actor=SYSTEM, as_of=date(2026, 4, 3), weeks=4, window_days=90)
    assert forecast.deals.loc[0, "call_by"] == "REP"
    # The weighted forecast stays the stage method: a call does not change it.
    assert (
        forecast.weighted
        == build_forecast(session, actor=SYSTEM, as_of=date(2026, 4, 1), weeks=4, window_days=90).weighted
    )

    set_forecast_call(session, actor=Actor.of(rep), customer_id=customer.id, category=None,
                      now=datetime(2026, 4, 5, 10))  # fmt: skip
    assert _totals(session, date(2026, 4, 6))["pipeline"] == (1, 80_000.0)
    assert current_calls(session, [customer.id]) == {}
    audit = session.scalars(
        select(AuditLog.changes).where(AuditLog.action == "forecast_call").order_by(AuditLog.id)
    ).all()
    assert audit == [{"forecast_category": [None, "commit"]}, {"forecast_category": ["commit", None]}]


def test_omitting_a_deal_needs_a_note_and_an_unknown_category_is_named(session: Session, role_users) -> None:
    customer = journey(session, ("lead", D(2026, 3, 2)))
    manager = Actor.of(role_users["manager"])
    with pytest.raises(ValidationError) as missing:
        set_forecast_call(session, actor=manager, customer_id=customer.id, category="omitted", note="  ")
    assert [(e.field, e.code) for e in missing.value.errors] == [("note", "forecast.call.note_required")]
    with pytest.raises(ValidationError) as unknown:
        set_forecast_call(session, actor=manager, customer_id=customer.id, category="sure thing")
    assert [(e.field, e.params) for e in unknown.value.errors] == [("category", {"value": "sure thing"})]
    set_forecast_call(
        session, actor=manager, customer_id=customer.id, category="omitted", note="budget frozen"
    )
    assert current_calls(session, [customer.id])[customer.id].category == "omitted"


def test_a_rep_cannot_call_another_reps_deal_and_leadership_cannot_call_at_all(
    session: Session, role_users
) -> None:
    customer = journey(session, ("lead", D(2026, 3, 2)))
    customer.owner_id = role_users["rep2"].id
    session.flush()
    for who in ("rep", "leader"):
        with pytest.raises(PermissionDenied):
            set_forecast_call(
                session, actor=Actor.of(role_users[who]), customer_id=customer.id, category="commit"
            )


def test_every_customers_latest_call_is_read_in_one_go(session: Session, role_users) -> None:
    manager = Actor.of(role_users["manager"])
    first, second = journey(session, ("lead", D(2026, 3, 2))), journey(session, ("lead", D(2026, 3, 2)))
    set_forecast_call(session, actor=manager, customer_id=first.id, category="commit",
                      now=datetime(2026, 4, 3, 10))  # fmt: skip
    set_forecast_call(session, actor=manager, customer_id=first.id, category="best_case",
                      now=datetime(2026, 4, 4, 10))  # fmt: skip
    set_forecast_call(session, actor=manager, customer_id=second.id, category="commit",
                      now=datetime(2026, 4, 5, 10))  # fmt: skip
    every = current_calls(session, None, cutoff=datetime(2026, 4, 5))
    assert {i: c.category for i, c in every.items()} == {first.id: "best_case"}
    assert every == current_calls(session, [first.id, second.id], cutoff=datetime(2026, 4, 5))
    assert {i: c.category for i, c in current_calls(session, None).items()} == {
        first.id: "best_case", second.id: "commit"
    }  # fmt: skip

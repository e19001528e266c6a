"""The forecast: the as-of rebuild, P(win | stage), the weighted weeks, slipped deals, snapshots, backtest."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import count

import pandas as pd
import pytest
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM, Actor
from funnel.analytics import forecast as fc
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.forecast import backtest, build_forecast, customer_states, take_snapshot
from funnel.cli.main import main
from funnel.core.errors import PermissionDenied
from funnel.demo.generate import generate_demo
from funnel.pipeline.stages import get_pipeline
from funnel.store.models import Customer, ForecastSnapshot, Opportunity, StageEvent

_numbers = count(1)
D = datetime  # the tests' clock is UTC (tests/conftest.py utc_team_clock): a day is a UTC day


def journey(session: Session, *moves: tuple[str, datetime], channel: str = "官网") -> Customer:
    """A customer whose stage history is `moves` (the first one creates it), status as the last move says."""
    n = next(_numbers)
    last_stage = moves[-1][0]
    customer = Customer(
        customer_no=f"T{n:05d}",
        name=f"客户{n}",
        channel=channel,
        created_at=moves[0][1],
        stage=last_stage if last_stage not in ("won", "lost") else moves[-2][0],
        status=last_stage if last_stage in ("won", "lost") else "open",
    )
    session.add(customer)
    session.flush()
    previous = None
    for stage, at in moves:
        session.add(StageEvent(customer_id=customer.id, from_stage=previous, to_stage=stage, at=at))
        previous = stage
    session.flush()
    return customer


def deal(session: Session, customer: Customer, amount: int, expected: date | None, created: datetime) -> None:
    session.add(
        Opportunity(
            customer_id=customer.id, amount=Decimal(amount), expected_close=expected, created_at=created
        )
    )
    session.flush()


def test_the_state_as_of_a_day_follows_back_and_forth_moves_and_ignores_later_customers(
    session: Session,
) -> None:
    pipeline = get_pipeline()
    back_and_forth = journey(
        session,
        ("lead", D(2026, 3, 1, 9)),
        ("contact", D(2026, 3, 2, 9)),
        ("qualify", D(2026, 3, 5, 9)),
        ("contact", D(2026, 3, 8, 9)),  # moved back
    )
    lost_then_reopened = journey(
        session, ("lead", D(2026, 3, 1)), ("lost", D(2026, 3, 3)), ("contact", D(2026, 3, 9))
    )
    journey(session, ("lead", D(2026, 3, 6)))  # created after the first as-of day

    def state(day: date) -> dict[int, tuple[str, int]]:
        cutoff = datetime.combine(day + timedelta(days=1), datetime.min.time())
        frame = customer_states(session, cutoff=cutoff, filters=CustomerFilter(), pipeline=pipeline)
        return {int(r.customer_id): (r.stage, int(r.furthest)) for r in frame.itertuples()}

    on_the_5th = state(date(2026, 3, 5))
    assert len(on_the_5th) == 2  # the customer created on the 6th does not exist yet
    assert on_the_5th[back_and_forth.id] == ("qualify", 2)
    assert on_the_5th[lost_then_reopened.id] == ("lost", 0)
    on_the_9th = state(date(2026, 3, 9))
    assert len(on_the_9th) == 3
    assert on_the_9th[back_and_forth.id] == ("contact", 2)  # back at contact; qualify stays reached
    assert on_the_9th[lost_then_reopened.id] == ("contact", 1)  # reopened: open again


def _closed_history(session: Session, *, won: int, lost_at_lead: int, lost_at_proposal: int) -> None:
    """Closed customers of March 2026: won ones went all the way; lost ones stopped at lead or proposal."""
    start = D(2026, 3, 1)
    for _ in range(won):
        journey(
            session,
            ("lead", start),
            ("contact", start + timedelta(days=1)),
            ("qualify", start + timedelta(days=2)),
            ("proposal", start + timedelta(days=3)),
            ("closing", start + timedelta(days=4)),
            ("won", start + timedelta(days=14)),
        )
    for _ in range(lost_at_lead):
        journey(session, ("lead", start), ("lost", start + timedelta(days=5)))
    for _ in range(lost_at_proposal):
        journey(
            session,
            ("lead", start),
            ("contact", start + timedelta(days=1)),
            ("proposal", start + timedelta(days=2)),  # qualify skipped: counts as passed
            ("lost", start + timedelta(days=6)),
        )


def test_p_win_per_stage_is_the_share_won_among_closed_customers_that_reached_it(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fc, "MIN_CLOSED_FOR_HISTORY", 5)
    _closed_history(session, won=6, lost_at_lead=10, lost_at_proposal=4)
    result = build_forecast(session, actor=SYSTEM, as_of=date(2026, 4, 1), window_days=90)
    assert result.closed_in_window == 20
    # lead: 6 of 20; contact, qualify, proposal: 6 of 10; closing: 6 of 6 reached it
    assert result.p_win == {"lead": 0.3, "contact": 0.6, "qualify": 0.6, "proposal": 0.6, "closing": 1.0}
    assert set(result.p_win_source.values()) == {"history"}


def test_too_few_closed_customers_fall_back_to_the_pipeline_default(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fc, "MIN_CLOSED_FOR_HISTORY", 8)
    _closed_history(session, won=6, lost_at_lead=10, lost_at_proposal=0)
    result = build_forecast(session, actor=SYSTEM, as_of=date(2026, 4, 1), window_days=90)
    pipeline = get_pipeline()
    assert result.p_win_source == {
        "lead": "history", "contact": "default", "qualify": "default", "proposal": "default", "closing": "default"
    }  # fmt: skip
    assert result.p_win["lead"] == 6 / 16
    assert result.p_win["closing"] == pipeline.win_probability("closing")
    # Outside the window nothing counts: every stage falls back.
    later = build_forecast(session, actor=SYSTEM, as_of=date(2026, 9, 1), window_days=30)
    assert later.closed_in_window == 0 and set(later.p_win_source.values()) == {"default"}


def test_open_amounts_are_weighted_and_bucketed_by_iso_week_and_past_dates_slip(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fc, "MIN_CLOSED_FOR_HISTORY", 5)
    _closed_history(session, won=6, lost_at_lead=10, lost_at_proposal=4)
    as_of = date(2026, 4, 1)  # a Wednesday of ISO week 2026-W14 (Monday 30 March)
    created = D(2026, 3, 20)
    in_proposal = journey(session, ("lead", created), ("proposal", D(2026, 3, 25)))
    deal(session, in_proposal, 100_000, date(2026, 4, 9), created)  # week 2 (W15)
    deal(session, in_proposal, 50_000, date(2026, 4, 20), created)  # same customer: earliest date, summed
    in_closing = journey(session, ("lead", created), ("closing", D(2026, 3, 28)))
    deal(session, in_closing, 40_000, date(2026, 3, 31), created)  # the day before as-of: slipped
    after = journey(session, ("lead", created), ("qualify", D(2026, 3, 22)))
    deal(session, after, 70_000, date(2026, 4, 2), D(2026, 4, 5))  # created after the as-of day: not yet
    journey(session, ("lead", D(2026, 3, 30)))  # open, no deal: counted open, no amount

    result = build_forecast(session, actor=SYSTEM, as_of=as_of, weeks=3, window_days=90)
    assert result.open == 4
    assert result.pipeline == 190_000
    assert result.weighted == pytest.approx(150_000 * 0.6 + 40_000 * 1.0)
    assert result.slipped == 1
    assert [(w.week, w.start, w.deals, w.amount) for w in result.weeks] == [
        ("2026-W14", date(2026, 3, 30), 0, 0.0),
        ("2026-W15", date(2026, 4, 6), 1, 150_000.0),
        ("2026-W16", date(2026, 4, 13), 0, 0.0),
    ]
    assert result.weeks[1].weighted == pytest.approx(90_000)
    document = result.as_dict()
    assert list(document) == [
        "as_of", "window_days", "closed_in_window", "p_win", "p_win_source", "open", "pipeline", "weighted",
        "slipped", "weeks",
    ]  # fmt: skip
    assert document["weeks"][1] == {
        "week": "2026-W15", "start": "2026-04-06", "deals": 1, "amount": 150000.0, "weighted": 90000.0
    }  # fmt: skip


def test_a_deal_without_a_date_is_placed_by_the_median_days_from_its_stage_to_won(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fc, "MIN_CLOSED_FOR_HISTORY", 5)
    _closed_history(session, won=6, lost_at_lead=0, lost_at_proposal=0)  # closing -> won took 10 days
    entered = D(2026, 3, 30, 0)
    open_ = journey(session, ("lead", D(2026, 3, 20)), ("closing", entered))
    deal(session, open_, 10_000, None, D(2026, 3, 20))
    result = build_forecast(session, actor=SYSTEM, as_of=date(2026, 4, 1), weeks=3, window_days=90)
    [row] = result.deals[result.deals["amount"] > 0].itertuples()
    assert row.placed_by == "median"
    # 10 days from closing to won, 3 already spent by the end of 1 April: 7 days after 1 April
    assert row.close_on == date(2026, 4, 8)
    assert result.weeks[1].deals == 1 and not row.slipped


def test_as_of_today_equals_the_live_state(engine, session: Session) -> None:
    generate_demo(engine, leads=300, seed=7, actor=SYSTEM)
    pipeline = get_pipeline()
    ranks = {key: i for i, key in enumerate(pipeline.funnel_keys)}
    live = {c.id: (c.status, c.stage, ranks[c.furthest_stage]) for c in session.scalars(select(Customer))}
    cutoff = datetime.now() + timedelta(days=1)
    rebuilt = customer_states(session, cutoff=cutoff, filters=CustomerFilter(), pipeline=pipeline)
    assert len(rebuilt) == len(live)
    for row in rebuilt.itertuples():
        status, stage, furthest = live[int(row.customer_id)]
        if row.stage in ("won", "lost"):
            assert status == row.stage
        else:
            assert (status, stage) == ("open", row.stage)
        assert int(row.furthest) == furthest


def test_the_weekly_snapshot_is_taken_once_per_week(session: Session, capsys) -> None:
    _closed_history(session, won=2, lost_at_lead=2, lost_at_proposal=0)
    first = take_snapshot(session, actor=SYSTEM, today=date(2026, 4, 1))
    again = take_snapshot(session, actor=SYSTEM, today=date(2026, 4, 3))  # same ISO week
    next_week = take_snapshot(session, actor=SYSTEM, today=date(2026, 4, 6))
    session.commit()
    assert (first.created, again.created, next_week.created) == (True, False, True)
    assert [s.week for s in session.scalars(select(ForecastSnapshot).order_by(ForecastSnapshot.week))] == [
        "2026-W14",
        "2026-W15",
    ]


def test_a_rep_may_not_read_the_forecast(session: Session, role_users) -> None:
    with pytest.raises(PermissionDenied):
        build_forecast(session, actor=Actor.of(role_users["rep"]))
    build_forecast(session, actor=Actor.of(role_users["leader"]))


def test_the_backtest_compares_each_weeks_forecast_with_what_was_won(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fc, "MIN_CLOSED_FOR_HISTORY", 5)
    _closed_history(session, won=6, lost_at_lead=4, lost_at_proposal=0)  # P(win | closing) = 1.0
    # Two deals expected in the week of 13 April, in closing since March; one is won that week, one not.
    for won in (True, False):
        moves = [("lead", D(2026, 3, 20)), ("closing", D(2026, 3, 25))]
        if won:
            moves.append(("won", D(2026, 4, 15)))
        customer = journey(session, *moves)
        deal(session, customer, 30_000, date(2026, 4, 14), D(2026, 3, 25))
    result = backtest(session, actor=SYSTEM, weeks=2, today=date(2026, 4, 22), window_days=90)
    assert [(w.week, w.forecast, w.actual) for w in result.weeks] == [
        ("2026-W15", 0.0, 0.0),
        ("2026-W16", 60_000.0, 30_000.0),
    ]
    assert result.weeks[1].error_pct == pytest.approx(100.0)
    assert result.wape_pct == pytest.approx(100.0)


def test_the_forecast_command_prints_the_documented_json(session: Session, capsys) -> None:
    _closed_history(session, won=3, lost_at_lead=3, lost_at_proposal=0)
    session.commit()
    assert (
        main(["forecast", "--as-of", "2026-04-01", "--weeks", "2", "--window-days", "60", "--format", "json"])
        == 0
    )
    document = json.loads(capsys.readouterr().out)
    assert document["as_of"] == "2026-04-01" and document["window_days"] == 60
    assert document["closed_in_window"] == 6 and len(document["weeks"]) == 2
    assert document["weeks"][0]["week"] == "2026-W14"
    assert main(["forecast", "--as-of", "2999-01-01"]) == 2
    assert "in the future" in capsys.readouterr().err
    assert main(["snapshot", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["created"] is True
    assert main(["snapshot", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["created"] is False


def _states_in_sql(session: Session, cutoff: datetime) -> dict[int, tuple[str, datetime, int]]:
    """The as-of state as one windowed SQL query (the rebuild's first form), to check the in-memory one."""
    ranks = case(
        {k: r for r, k in enumerate(get_pipeline().funnel_keys)}, value=StageEvent.to_stage, else_=-1
    )
    numbered = (
        select(
            StageEvent.customer_id,
            StageEvent.to_stage,
            StageEvent.at,
            func.row_number()
            .over(partition_by=StageEvent.customer_id, order_by=(StageEvent.at.desc(), StageEvent.id.desc()))
            .label("newest"),
            func.max(ranks).over(partition_by=StageEvent.customer_id).label("furthest"),
        )
        .join(Customer, Customer.id == StageEvent.customer_id)
        .where(StageEvent.at < cutoff, Customer.created_at < cutoff)
        .subquery()
    )
    rows = session.execute(select(numbered).where(numbered.c.newest == 1))
    return {int(r.customer_id): (r.to_stage, r.at, int(r.furthest)) for r in rows}


def test_the_in_memory_rebuild_equals_the_state_one_sql_query_gives_on_every_day(
    engine, session: Session
) -> None:
    generate_demo(engine, leads=300, seed=11, actor=SYSTEM)
    journey(session, ("lead", D(2026, 3, 1, 9)), ("contact", D(2026, 3, 2, 9)), ("lead", D(2026, 3, 2, 9)))
    session.commit()
    pipeline = get_pipeline()
    history = fc.load_history(session, actor=SYSTEM, labels=False)
    first, last = session.execute(select(func.min(StageEvent.at), func.max(StageEvent.at))).one()
    day = first.date()
    while day <= last.date() + timedelta(days=1):
        cutoff = datetime.combine(day, datetime.min.time())
        frame = fc.states_as_of(history, cutoff=cutoff, pipeline=pipeline)
        rebuilt = {
            int(r.customer_id): (r.stage, r.entered_at.to_pydatetime(), int(r.furthest))
            for r in frame.itertuples()
        }
        assert rebuilt == _states_in_sql(session, cutoff), day
        day += timedelta(days=17)


def test_forecasts_from_one_loaded_history_equal_their_own_loads_and_leave_it_unchanged(
    engine, session: Session
) -> None:
    generate_demo(engine, leads=300, seed=5, actor=SYSTEM)
    history = fc.load_history(session, actor=SYSTEM)
    events, opportunities = history.events.copy(), history.opportunities.copy()
    today = date.today()
    for as_of, window in [(today, 365), (today - timedelta(days=40), 90), (today - timedelta(days=200), 30)]:
        shared = build_forecast(session, actor=SYSTEM, as_of=as_of, window_days=window, history=history)
        alone = build_forecast(session, actor=SYSTEM, as_of=as_of, window_days=window)
        assert shared.as_dict() == alone.as_dict()
        assert shared.deals.equals(alone.deals)
    pd.testing.assert_frame_equal(history.events, events)  # shared by every session of the page
    pd.testing.assert_frame_equal(history.opportunities, opportunities)
    assert backtest(session, actor=SYSTEM, weeks=4, history=history) == backtest(
        session, actor=SYSTEM, weeks=4
    )

"""Demo data: deterministic per seed, internally consistent, loadable from the CLI, on each backend."""

from __future__ import annotations

import hashlib
import os
import random
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, case, delete, func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM
from funnel.capture.leads import LeadInput, create_lead
from funnel.cli.main import main
from funnel.core.clock import utcnow
from funnel.core.db import session_scope
from funnel.core.settings import PROJECT_ROOT
from funnel.customers.numbering import _NO_ALPHABET, new_customer_no
from funnel.customers.recount import funnel_differences
from funnel.customers.search import search_condition, search_index_problems
from funnel.demo.catalog import CHANNELS
from funnel.demo.deals import payment_schedule
from funnel.demo.generate import DemoError, demo_tables, generate_demo
from funnel.demo.journey import BEIJING, WORK_END, WORK_START, step_rate, working_time
from funnel.pipeline.stages import LOST, WON, get_pipeline
from funnel.store.bulk import BulkLoader
from funnel.store.deal_amounts import deal_amount_differences
from funnel.store.last_active import last_active_differences
from funnel.store.models import (
    Activity,
    Contract,
    Customer,
    Objection,
    Opportunity,
    Payment,
    StageEvent,
    Task,
    User,
)

ANCHOR = date(2026, 6, 30)
ANCHOR_AT = datetime(2026, 6, 30)
LEADS = 300


def _digest(engine: Engine) -> str:
    """A hash of every customer and stage event, column by column, in id order."""
    sha = hashlib.sha256()
    with Session(engine) as session:
        for model in (Customer, StageEvent):
            columns = list(model.__table__.columns)
            for row in session.execute(select(*columns).order_by(model.id)):
                sha.update(repr(tuple(row)).encode())
    return sha.hexdigest()


def _wipe(engine: Engine) -> None:
    with session_scope(engine) as session:
        for table in reversed(demo_tables()):
            session.execute(delete(table))


@pytest.fixture
def demo(engine: Engine) -> Engine:
    generate_demo(engine, leads=LEADS, seed=42, anchor=ANCHOR, actor=SYSTEM)
    return engine


def test_the_same_seed_gives_identical_rows(demo):
    first = _digest(demo)
    _wipe(demo)

    generate_demo(demo, leads=LEADS, seed=42, anchor=ANCHOR, actor=SYSTEM)

    assert _digest(demo) == first


def test_a_different_seed_gives_different_rows(demo):
    first = _digest(demo)
    _wipe(demo)

    generate_demo(demo, leads=LEADS, seed=7, anchor=ANCHOR, actor=SYSTEM)

    assert _digest(demo) != first


def test_the_same_seed_gives_identical_rows_in_another_process_with_another_hash_seed(tmp_path, engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("one backend is enough to catch process-dependent ordering")
    generate_demo(engine, leads=200, seed=3, anchor=ANCHOR, actor=SYSTEM)
    other = tmp_path / "other.db"
    env = {**os.environ, "CRM_DATABASE_URL": f"sqlite:///{other}", "PYTHONHASHSEED": "12345"}
    args = ["-m", "funnel", "demo", "--leads", "200", "--seed", "3", "--anchor", ANCHOR.isoformat()]
    # A new SQLite file outside data/ is made by init-db only (a missing one is taken for a typo).
    for command in (["-m", "funnel", "init-db"], args):
        subprocess.run([sys.executable, *command], env=env, cwd=PROJECT_ROOT, check=True, capture_output=True)

    from funnel.core.db import make_engine

    assert _digest(make_engine(f"sqlite:///{other}")) == _digest(engine)


def test_the_summary_counts_match_the_rows_stored(demo, session):
    summary = generate_demo(demo, leads=50, seed=1, anchor=ANCHOR, append=True, actor=SYSTEM)

    assert session.scalar(select(func.count()).select_from(Customer)) == LEADS + 50
    assert summary.counts["customer"] == 50
    assert summary.counts["user"] == 0  # the demo users already existed and were reused
    assert all(not user.created for user in summary.users)
    for table in demo_tables():
        assert session.scalar(select(func.count()).select_from(table)) > 0, table.name


def test_there_are_twelve_reps_and_one_of_each_other_role_with_hashed_passwords(demo, session):
    users = session.scalars(select(User)).all()
    roles = sorted(user.role for user in users)

    assert roles.count("rep") == 12
    assert [r for r in roles if r != "rep"] == ["admin", "delivery", "leader", "manager"]
    assert {u.username for u in users} >= {"manager", "boss", "delivery", "admin", "rep01", "rep12"}
    assert all(u.password_hash and u.password_hash.startswith("$argon2id$") for u in users)
    assert all(u.region and u.industry and u.team for u in users if u.role == "rep")


def test_every_customer_starts_at_the_first_stage_when_created(demo, session):
    first_event: dict[int, StageEvent] = {}
    for event in session.scalars(select(StageEvent).order_by(StageEvent.id.desc())):
        first_event[event.customer_id] = event
    created = {cid: at for cid, at in session.execute(select(Customer.id, Customer.created_at))}

    assert len(first_event) == len(created) == LEADS
    first = get_pipeline().first
    assert all(
        (e.from_stage, e.to_stage, e.at) == (None, first, created[cid]) for cid, e in first_event.items()
    )


def test_events_run_forward_in_time_and_never_past_the_anchor(demo, session):
    events = session.execute(select(StageEvent).order_by(StageEvent.customer_id, StageEvent.id)).scalars()
    previous: dict[int, datetime] = {}
    for event in events:
        assert event.at >= previous.get(event.customer_id, event.at)
        previous[event.customer_id] = event.at

    for column in (StageEvent.at, Customer.created_at, Customer.closed_at, Activity.at, Objection.created_at):
        assert session.scalar(select(func.max(column))) < ANCHOR_AT <= utcnow()
    assert session.scalar(select(func.max(Payment.received_on))) < ANCHOR


def test_customer_fields_agree_with_their_history(demo, session):
    pipeline = get_pipeline()
    events: dict[int, list[StageEvent]] = {}
    for event in session.scalars(select(StageEvent).order_by(StageEvent.id)):
        events.setdefault(event.customer_id, []).append(event)
    for customer in session.scalars(select(Customer)):
        history = events[customer.id]
        stages = [e.to_stage for e in history if e.to_stage in pipeline.keys]
        later = [e.at for e in history[1:] if e.to_stage in pipeline.keys]
        assert customer.first_contacted_at == (later[0] if later else None)
        if customer.status == WON:
            assert (customer.stage, history[-1].to_stage, customer.closed_at) == (WON, WON, history[-1].at)
        elif customer.status == LOST:
            assert history[-1].to_stage == LOST and customer.closed_at == history[-1].at
            assert customer.lost_reason
            assert customer.stage == max(stages, key=pipeline.rank)
        else:
            assert customer.stage == stages[-1] and customer.closed_at is None
        assert 0 <= (customer.score or 0) <= 100
        qualified = pipeline.rank(max(stages, key=pipeline.rank)) >= len(pipeline.keys) // 2
        assert (customer.grade in ("A", "B", "C")) == qualified


def test_the_stored_columns_the_loader_writes_equal_their_recounts(demo, session):
    # The loader writes rows with Core: no flush listener keeps these, the rows must carry them.
    assert last_active_differences(session) == []
    assert deal_amount_differences(session) == []
    assert funnel_differences(session, actor=SYSTEM) == []
    won_with_contract = session.scalar(
        select(func.count()).where(Customer.status == WON, Customer.signed_amount.is_not(None))
    )
    assert won_with_contract  # the check above compared real sums, not only NULLs


def test_the_history_has_fast_late_and_missing_first_contacts_and_a_skipped_stage(engine):
    generate_demo(engine, leads=1000, seed=42, anchor=ANCHOR, actor=SYSTEM)
    with Session(engine) as session:
        customers = session.execute(select(Customer.created_at, Customer.first_contacted_at)).all()
        hops = session.execute(select(StageEvent.from_stage, StageEvent.to_stage)).all()
    hours = [(f - c).total_seconds() / 3600 for c, f in customers if f is not None]
    within_day = sum(h <= 24 for h in hours)
    keys = get_pipeline().keys

    assert within_day > len(hours) / 2 and within_day < len(hours)
    assert len(hours) < len(customers)
    assert any(a in keys and b in keys and keys.index(b) - keys.index(a) > 1 for a, b in hops), (
        "no stage was ever skipped"
    )


def test_won_customers_have_contracts_and_payments_never_exceed_them(demo, session):
    won = set(session.scalars(select(Customer.id).where(Customer.status == WON)))
    with_contract = set(session.scalars(select(Contract.customer_id)))
    paid = (
        select(Contract.id, Contract.amount, func.sum(Payment.amount).label("paid"))
        .join(Payment, Payment.contract_id == Contract.id)
        .group_by(Contract.id, Contract.amount)
    )
    overpaid = [row for row in session.execute(paid) if row.paid > row.amount]

    assert won and won == with_contract
    assert not overpaid
    assert session.scalar(select(func.count()).select_from(Payment)) > 0


def test_opportunities_belong_to_qualified_leads_and_are_sized_in_cny(demo, session):
    amounts = session.scalars(select(Opportunity.amount)).all()
    stages = session.scalars(
        select(Customer.stage).join(Opportunity, Opportunity.customer_id == Customer.id)
    ).all()

    assert amounts and all(20_000 <= a <= 2_000_000 for a in amounts)
    assert "lead" not in stages and "contact" not in stages


def test_objections_are_raised_at_proposal_or_closing(demo, session):
    stages = set(session.scalars(select(Objection.stage)))
    categories = set(session.scalars(select(Objection.category)))

    assert stages and stages <= {"proposal", "closing"}
    assert categories <= {"price", "delivery", "internal_process", "competitor", "other"}


def test_all_channels_appear_and_referrals_win_more_often_than_ads(engine, session):
    # 2,000 leads: at 300 a referral sample of ~20 leads is too small to rank by win rate (2 wins or 1).
    generate_demo(engine, leads=2000, seed=42, anchor=ANCHOR, actor=SYSTEM)
    rows = session.execute(
        select(Customer.channel, func.count(), func.sum(case((Customer.status == WON, 1), else_=0))).group_by(
            Customer.channel
        )
    ).all()
    win_rate = {channel: won / total for channel, total, won in rows}

    assert set(win_rate) == {c.name for c in CHANNELS}
    assert win_rate["转介绍"] > win_rate["广告投放"]


def test_open_leads_have_follow_up_tasks_owned_by_their_rep(demo, session):
    rows = session.execute(
        select(Task.owner_id, Task.done_at, Customer.owner_id, Customer.status).join(
            Customer, Customer.id == Task.customer_id
        )
    ).all()

    assert rows
    assert all(
        task_owner == owner and done is None and status == "open" for task_owner, done, owner, status in rows
    )


def test_a_lead_created_after_the_demo_gets_a_fresh_id(demo, session):
    customer = create_lead(
        session, LeadInput(name="新客户", phone="13900001111", channel="官网"), actor=SYSTEM
    )
    session.commit()

    assert customer.id == LEADS + 1


def test_a_non_empty_database_is_refused_unless_appending(demo):
    with pytest.raises(DemoError, match="--append"):
        generate_demo(demo, leads=10, anchor=ANCHOR, actor=SYSTEM)


def test_an_anchor_in_the_future_is_refused(engine):
    with pytest.raises(DemoError, match="future"):
        generate_demo(engine, leads=10, anchor=date(2999, 1, 1), actor=SYSTEM)


def test_the_cli_loads_demo_data_and_prints_counts_and_users(engine, capsys):
    code = main(["demo", "--leads", "200", "--seed", "5", "--anchor", ANCHOR.isoformat()])
    out = capsys.readouterr().out

    assert code == 0
    assert "customer" in out and "200" in out
    assert all(name in out for name in ("rep01", "rep12", "manager", "boss", "delivery", "admin"))
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 200


def test_the_cli_refuses_a_non_empty_database_with_one_line(demo, capsys):
    code = main(["demo", "--leads", "10"])

    assert code == 2
    assert "--append" in capsys.readouterr().err


def test_the_cli_creates_the_schema_of_a_fresh_sqlite_file(tmp_path: Path, monkeypatch, capsys):
    from funnel.core.settings import get_settings

    fresh = tmp_path / "fresh.db"
    fresh.touch()  # an empty file: outside data/ only init-db creates a missing one (a typo, most likely)
    monkeypatch.setenv("CRM_DATABASE_URL", f"sqlite:///{fresh}")
    get_settings.cache_clear()
    try:
        assert main(["demo", "--leads", "20", "--anchor", ANCHOR.isoformat()]) == 0
    finally:
        get_settings.cache_clear()
    assert "Loaded 20 demo leads" in capsys.readouterr().out


# The pure helpers behind the data, checked once (no database needed).


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 6, 1, 2, 30),  # Monday 10:30 in Beijing: already working hours
        datetime(2026, 6, 1, 13, 0),  # Monday 21:00 in Beijing: moves to Tuesday morning
        datetime(2026, 5, 31, 20, 0),  # Monday 04:00 in Beijing: moves to 09:xx
        datetime(2026, 6, 5, 14, 0),  # Friday 22:00 in Beijing: Saturday morning or Monday
    ],
)
def test_working_time_never_moves_earlier_and_lands_in_beijing_working_hours(at):
    for seed in range(20):
        moved = working_time(random.Random(seed), at)
        local_hour = (moved + BEIJING).hour

        assert moved >= at.replace(microsecond=0)
        assert WORK_START <= local_hour < WORK_END


@pytest.mark.parametrize("amount", [20_000, 123_400, 1_999_900])
def test_payment_schedules_never_exceed_the_contract(amount):
    for seed in range(200):
        schedule = payment_schedule(random.Random(seed), amount, date(2026, 3, 1))

        assert sum(paid for paid, _ in schedule) <= amount
        assert all(received > date(2026, 3, 1) for _, received in schedule)


def test_a_higher_lift_never_lowers_a_step_rate():
    for position in range(6):
        rates = [step_rate(position, lift, 5) for lift in (0.4, 1.0, 2.6)]

        assert rates == sorted(rates) and rates[-1] <= 0.95


def test_demo_customer_numbers_look_like_the_ones_create_lead_makes(demo, session):
    at = datetime(2026, 6, 1)
    pattern = re.compile(rf"^C\d{{6}}[{_NO_ALPHABET}]{{5}}$")
    numbers = session.scalars(select(Customer.customer_no)).all()

    assert pattern.match(new_customer_no(at))
    assert len(set(numbers)) == len(numbers) and all(pattern.match(n) for n in numbers)


def test_drawing_unique_values_ends_even_when_the_pool_is_exhausted():
    from funnel.demo.people import unique

    taken = {"a@x.cn"}
    values = [unique("a@x.cn", taken, lambda: "a@x.cn") for _ in range(3)]

    assert values == ["a.2@x.cn", "a.3@x.cn", "a.4@x.cn"]


def _indexes(engine: Engine) -> set[tuple[str, str]]:
    """Every index of the database with its definition."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            query = "SELECT name, coalesce(sql, '') FROM sqlite_master WHERE type = 'index'"
        else:
            query = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
        return {(name, ddl) for name, ddl in conn.exec_driver_sql(query)}


def test_a_load_into_an_empty_database_rebuilds_every_index_it_set_aside_and_search_finds_the_leads(engine):
    before = _indexes(engine)
    assert any(name == "ix_customer_funnel" for name, _ in before)

    generate_demo(engine, leads=LEADS, seed=42, anchor=ANCHOR, actor=SYSTEM)

    assert _indexes(engine) == before
    with engine.connect() as conn:  # the planner has statistics for the loaded tables (ANALYZE ran)
        if engine.dialect.name == "sqlite":
            stats = "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'customer'"
        else:
            stats = "SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'customer' AND last_analyze IS NOT NULL"
        assert conn.exec_driver_sql(stats).scalar() > 0
    with session_scope(engine) as session:
        some = session.execute(select(Customer.id, Customer.name).order_by(Customer.id).limit(1)).one()
        condition = search_condition(session, [], some.name)
        assert some.id in session.scalars(select(Customer.id).where(condition))
        assert search_index_problems(session) == []


def test_a_load_that_fails_midway_leaves_no_rows_and_every_index(engine, monkeypatch):
    before = _indexes(engine)
    original = BulkLoader.insert
    inserted: list[str] = []

    def failing_insert(self, table, rows):
        inserted.append(table.name)
        if len(inserted) > len(demo_tables()):  # the second batch of leads
            raise RuntimeError("disk full")
        return original(self, table, rows)

    monkeypatch.setattr(BulkLoader, "insert", failing_insert)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_demo(engine, leads=6_000, seed=42, anchor=ANCHOR, actor=SYSTEM)

    assert _indexes(engine) == before
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 0

"""Closing's timer rules on a fake clock (before, at and after each limit; once only) and the red flags
they raise on the customer guide: proposal feedback due, idle quote, overdue instalment, the survey."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import PUBLIC, Actor
from funnel.cli.main import main
from funnel.closing import contracts, files, payments, quotes
from funnel.closing.reminders import INSTALMENT_OVERDUE, PROPOSAL_FEEDBACK_DUE, QUOTE_IDLE, SURVEY_ISSUED
from funnel.closing.surveys import ANSWERED, OPEN, answer_survey, survey_state
from funnel.core.clock import utcnow
from funnel.core.settings import get_settings
from funnel.customers.guidance import stage_guide
from funnel.store.models import Activity, Notification, Quote, Survey, TimerFire, User
from funnel.timers.engine import rule_names, run_timers
from tests.integration.closing.helpers import customer

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


def act(user: User) -> Actor:
    return Actor.of(user)


def told(session: Session, kind: str) -> list[Notification]:
    session.expire_all()
    return list(
        session.scalars(select(Notification).where(Notification.kind == kind).order_by(Notification.id))
    )


def fired(engine: Engine, now: datetime, rule: str) -> int:
    return run_timers(engine, now)[rule]


def flags(session: Session, user: User, customer_id: int, now: datetime) -> tuple[str, ...]:
    session.expire_all()
    return stage_guide(session, actor=act(user), customer_id=customer_id, now=now).red_flags


def test_the_closing_rules_run_in_the_one_engine_after_the_working_ones() -> None:
    names = rule_names()
    assert names[-4:] == (PROPOSAL_FEEDBACK_DUE, QUOTE_IDLE, INSTALMENT_OVERDUE, SURVEY_ISSUED)
    assert names[0] == "first_contact_overdue"


def test_proposal_feedback_is_due_on_its_day_unless_someone_was_in_touch(
    engine: Engine, session: Session, role_users: dict[str, User]
) -> None:
    rep = role_users["rep"]
    sent = utcnow() + DAY  # after every activity the lead itself made
    quiet, called = customer(session, rep), customer(session, rep)
    documents = []
    for deal in (quiet, called):
        document = files.upload_document(
            session, actor=act(rep), customer_id=deal.id, filename="方案.pdf", data=PDF
        )
        files.send_proposal(session, actor=act(rep), document_id=document.id, now=sent)
        documents.append(document)
    session.add(Activity(customer_id=called.id, kind="call", at=sent + DAY, summary="asked for feedback"))
    session.commit()
    due = sent + timedelta(days=get_settings().proposal_feedback_days)

    assert fired(engine, due - SECOND, PROPOSAL_FEEDBACK_DUE) == 0
    assert flags(session, rep, quiet.id, due - SECOND) == ()
    assert fired(engine, due, PROPOSAL_FEEDBACK_DUE) == 1
    assert fired(engine, due, PROPOSAL_FEEDBACK_DUE) == 0
    assert fired(engine, due + DAY, PROPOSAL_FEEDBACK_DUE) == 0
    notes = told(session, PROPOSAL_FEEDBACK_DUE)
    assert [(n.user_id, n.customer_id) for n in notes] == [(rep.id, quiet.id)]
    assert "方案.pdf" in notes[0].message and quiet.customer_no in notes[0].message
    assert "flag.proposal_feedback_due" in flags(session, rep, quiet.id, due)
    assert "flag.proposal_feedback_due" not in flags(session, rep, called.id, due)

    # Sent again: a new feedback day, reminded again once.
    files.send_proposal(session, actor=act(rep), document_id=documents[0].id, now=due + DAY)
    session.commit()
    assert fired(engine, due + 2 * DAY, PROPOSAL_FEEDBACK_DUE) == 0
    again = due + DAY + timedelta(days=get_settings().proposal_feedback_days)
    assert fired(engine, again, PROPOSAL_FEEDBACK_DUE) == 1
    assert fired(engine, again, PROPOSAL_FEEDBACK_DUE) == 0


def test_a_quote_idle_over_three_days_reminds_the_owner_once_and_raises_the_flag(
    engine: Engine, session: Session, role_users: dict[str, User]
) -> None:
    rep, manager = role_users["rep"], role_users["manager"]
    idle, busy, unowned = customer(session, rep), customer(session, rep), customer(session)
    made = {}
    for deal in (idle, busy, unowned):
        made[deal.id] = quotes.add_quote(
            session, actor=act(manager), customer_id=deal.id, amount="120,000", concessions="3 个月服务"
        )
    session.flush()
    quoted = max(q.created_at for q in made.values())
    for q in made.values():
        q.created_at = quoted  # one quote time for the three, to test the limit exactly
    session.add(Activity(customer_id=busy.id, kind="call", at=quoted + DAY, summary="negotiating"))
    session.commit()
    limit = quoted + timedelta(days=get_settings().quote_idle_days)

    assert fired(engine, limit, QUOTE_IDLE) == 0  # exactly three days: not yet idle
    assert flags(session, rep, idle.id, limit) == ()
    assert fired(engine, limit + SECOND, QUOTE_IDLE) == 2
    assert fired(engine, limit + SECOND, QUOTE_IDLE) == 0
    assert fired(engine, limit + DAY, QUOTE_IDLE) == 0
    notes = told(session, QUOTE_IDLE)
    # the idle customer's owner; the unowned one's managers (the manager without a team)
    assert {(n.user_id, n.customer_id) for n in notes} == {(rep.id, idle.id), (manager.id, unowned.id)}
    assert "flag.quote_idle" in flags(session, rep, idle.id, limit + SECOND)
    assert "flag.quote_idle" not in flags(session, rep, busy.id, limit + SECOND)

    # A newer quote that goes idle again is reminded again.
    newer = quotes.add_quote(session, actor=act(rep), customer_id=idle.id, amount="110000")
    newer.created_at = limit + DAY
    session.commit()
    assert fired(engine, limit + DAY + timedelta(days=3, seconds=1), QUOTE_IDLE) == 1
    assert session.scalar(select(func.count()).select_from(Quote)) == 4


def test_an_overdue_instalment_reaches_the_owner_and_finance_once_until_paid(
    engine: Engine, session: Session, role_users: dict[str, User]
) -> None:
    rep, manager, finance = role_users["rep"], role_users["manager"], role_users["delivery"]
    deal = customer(session, rep)
    draft = contracts.create_contract(
        session, actor=act(rep), customer_id=deal.id, amount="90000", contract_no="HT-9"
    )
    contracts.submit_contract(session, actor=act(rep), contract_id=draft.id)
    contract = contracts.approve_contract(session, actor=act(manager), contract_id=draft.id)
    today = utcnow().date()
    first, second = today + timedelta(days=10), today + timedelta(days=40)
    payments.set_plan(
        session,
        actor=act(finance),
        contract_id=contract.id,
        instalments=[("30000", first), ("60000", second)],
    )
    payments.record_payment(session, actor=act(finance), contract_id=contract.id, amount="10000")
    session.commit()
    on_due_day = datetime.combine(first, datetime.min.time()) + timedelta(hours=23)

    assert fired(engine, on_due_day, INSTALMENT_OVERDUE) == 0  # still its due day
    assert "flag.instalment_overdue" not in flags(session, rep, deal.id, on_due_day)
    assert fired(engine, on_due_day + timedelta(hours=1), INSTALMENT_OVERDUE) == 1  # the next day
    assert fired(engine, on_due_day + DAY, INSTALMENT_OVERDUE) == 0
    notes = told(session, INSTALMENT_OVERDUE)
    assert {n.user_id for n in notes} == {rep.id, finance.id}
    assert all("HT-9" in n.message and "20,000.00" in n.message for n in notes)
    assert "flag.instalment_overdue" in flags(session, rep, deal.id, on_due_day + DAY)

    # Paid up: no flag; the second instalment is not due yet.
    payments.record_payment(session, actor=act(finance), contract_id=contract.id, amount="20000")
    session.commit()
    assert "flag.instalment_overdue" not in flags(session, rep, deal.id, on_due_day + DAY)
    assert fired(engine, on_due_day + 2 * DAY, INSTALMENT_OVERDUE) == 0


def test_three_days_after_a_win_a_survey_link_is_issued_once_and_works(
    engine: Engine, session: Session, role_users: dict[str, User]
) -> None:
    rep = role_users["rep"]
    deal, older = customer(session, rep), customer(session, rep)
    won_at = utcnow()
    deal.status, deal.won_at = "won", won_at
    # won long before the look-back: not surveyed late by the first run of the timers
    older.status = "won"
    older.won_at = won_at - timedelta(days=get_settings().timer_lookback_days + 10)
    session.commit()
    due = won_at + timedelta(days=get_settings().survey_after_win_days)

    assert fired(engine, due - SECOND, SURVEY_ISSUED) == 0
    assert fired(engine, due, SURVEY_ISSUED) == 1
    assert fired(engine, due, SURVEY_ISSUED) == 0
    assert fired(engine, due + DAY, SURVEY_ISSUED) == 0
    session.expire_all()
    assert session.scalars(select(Survey.customer_id)).all() == [deal.id]
    note = told(session, "survey_issued")
    assert [n.user_id for n in note] == [rep.id]
    link = (note[0].params or {})["path"]
    assert isinstance(link, str) and link.startswith(get_settings().public_base_url + "/survey/")
    token = link.rsplit("/", 1)[1]
    assert survey_state(session, token, now=due) == OPEN
    assert answer_survey(session, actor=PUBLIC, token=token, rating="5", recommend="9", now=due) == "recorded"
    assert answer_survey(session, actor=PUBLIC, token=token, rating="1", recommend="0", now=due) == ANSWERED
    assert (
        session.scalar(select(func.count()).select_from(TimerFire).where(TimerFire.rule == SURVEY_ISSUED))
        == 1
    )


def test_a_won_customer_gets_no_idle_quote_flag(session: Session, role_users: dict[str, User]) -> None:
    rep = role_users["rep"]
    deal = customer(session, rep)
    q = quotes.add_quote(session, actor=act(rep), customer_id=deal.id, amount="5000")
    session.flush()
    deal.status = "won"
    session.commit()
    assert "flag.quote_idle" not in flags(session, rep, deal.id, q.created_at + 10 * DAY)


def test_remind_reports_the_closing_rules_in_its_json_and_creates_nothing_the_second_time(
    engine: Engine, session: Session, role_users: dict[str, User], capsys: pytest.CaptureFixture[str]
) -> None:
    rep = role_users["rep"]
    deal = customer(session, rep)
    quote = quotes.add_quote(session, actor=act(rep), customer_id=deal.id, amount="8000")
    session.flush()
    won = customer(session, rep)
    won.status, won.won_at = "won", quote.created_at
    session.commit()
    now = (quote.created_at + timedelta(days=4)).replace(microsecond=0).isoformat() + "+00:00"

    runs = []
    for _ in range(2):
        assert main(["remind", "--now", now, "--format", "json"]) == 0
        runs.append(json.loads(capsys.readouterr().out))

    assert runs[0]["now"] == now
    assert list(runs[0]["created"]) == list(rule_names())
    assert {k: v for k, v in runs[0]["created"].items() if v} == {QUOTE_IDLE: 1, SURVEY_ISSUED: 1}
    assert runs[0]["total_created"] == 2
    assert runs[1] == {"now": now, "created": dict.fromkeys(rule_names(), 0), "total_created": 0}

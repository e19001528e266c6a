"""Activities, call sync, qualification, grading and speed to lead against the store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import select

from funnel.access.permissions import SYSTEM, Actor
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.clock import utcnow
from funnel.core.errors import PermissionDenied, StaleEdit, ValidationError
from funnel.customers.stages import move_stage
from funnel.store.models import Activity, AuditLog, Customer, StageEvent, Task
from funnel.working.activities import log_activity
from funnel.working.call_sync import import_calls, sync_activity
from funnel.working.grading import grading_table, set_grade, set_grades
from funnel.working.qualification import read_qualification, save_qualification
from funnel.working.speed import speed_to_lead


@pytest.fixture
def rep(role_users):
    return Actor.of(role_users["rep"])


@pytest.fixture
def lead(session, role_users):
    customer = create_lead(
        session,
        LeadInput(name="张三", phone="138 1234 5678", owner_id=role_users["rep"].id, channel="展会"),
        actor=SYSTEM,
    )
    session.flush()
    return customer


def test_the_first_call_sets_first_contact_once_and_the_next_step_becomes_a_task(session, rep, lead):
    at = utcnow() - timedelta(hours=2)
    due = utcnow() + timedelta(days=3)
    logged = log_activity(
        session, actor=rep, customer_id=lead.id, kind="call", at=at, needs="CRM for 20 reps",
        budget="10-30万", next_step="3天内约二次电话", next_step_due=due,
    )  # fmt: skip
    assert logged.first_contact
    session.refresh(lead)
    assert lead.first_contacted_at == at
    assert lead.stage == "contact"
    assert session.scalar(select(StageEvent.at).where(StageEvent.to_stage == "contact")) == at
    task = session.get(Task, logged.task_id)
    assert (task.title, task.due_at, task.owner_id, task.kind) == (
        "3天内约二次电话",
        due,
        rep.user_id,
        "follow_up",
    )
    again = log_activity(session, actor=rep, customer_id=lead.id, kind="wechat", note="sent the brochure")
    assert not again.first_contact and again.task_id is None
    session.refresh(lead)
    assert lead.first_contacted_at == at
    assert session.scalar(select(AuditLog.action).where(AuditLog.entity == "activity")) == "activity_log"


def test_a_note_or_a_missed_call_is_no_first_contact(session, rep, lead):
    log_activity(session, actor=rep, customer_id=lead.id, kind="note", note="looked them up")
    log_activity(session, actor=rep, customer_id=lead.id, kind="call", duration_s=0)
    session.refresh(lead)
    assert lead.first_contacted_at is None and lead.stage == "lead"


def test_bad_input_names_each_field(session, rep, lead):
    with pytest.raises(ValidationError) as caught:
        log_activity(
            session, actor=rep, customer_id=lead.id, kind="fax", at=utcnow() + timedelta(days=1),
            next_step="call again", budget="x" * 65,
        )  # fmt: skip
    assert set(caught.value.by_field()) == {"kind", "at", "next_step_due", "budget"}
    assert session.scalar(select(Activity.id)) is None


def test_another_reps_customer_is_refused(session, role_users, lead):
    with pytest.raises(PermissionDenied):
        log_activity(session, actor=Actor.of(role_users["rep2"]), customer_id=lead.id, kind="call", note="x")


CALL_LOG = (
    "时间,号码,方向,时长\n"
    "2026-11-30 10:00,+86 138-1234-5678,呼出,125\n"
    "2026-11-30 11:00,139 0000 0000,呼入,30\n"
    "2026-11-30 12:00,12,out,5\n"
    "not a time,13812345678,out,5\n"
).encode()


def test_a_call_log_matches_by_normalised_phone_once_and_lists_the_rest(session, lead):
    result = import_calls(session, CALL_LOG, actor=SYSTEM, filename="calls.csv")
    assert result.created == 1
    assert [(u.row, u.reason) for u in result.unmatched] == [
        (3, "sync.unmatched.no_customer"),
        (4, "sync.unmatched.bad_number"),
        (5, "sync.unmatched.bad_time"),
    ]
    activity = session.scalar(select(Activity).where(Activity.customer_id == lead.id))
    assert (activity.kind, activity.direction, activity.duration_s) == ("call", "out", 125)
    session.refresh(lead)
    assert lead.first_contacted_at is not None
    again = import_calls(session, CALL_LOG, actor=SYSTEM, filename="calls.csv")
    assert (again.created, again.already) == (0, 1)


def test_sync_activity_validates_the_body_and_matches_by_phone(session, lead):
    with pytest.raises(ValidationError) as caught:
        sync_activity(session, {"at": "yesterday", "direction": "sideways", "colour": 1}, actor=SYSTEM)
    assert set(caught.value.by_field()) == {"body", "phone", "at", "direction"}
    body = {"external_id": "pbx-1", "at": "2026-12-01T09:00:00", "phone": "13812345678", "direction": "in",
            "duration_s": 60, "summary": "asked for a demo"}  # fmt: skip
    assert sync_activity(session, body, actor=SYSTEM).created == 1
    assert sync_activity(session, body, actor=SYSTEM).already == 1
    missing = sync_activity(session, {**body, "external_id": "pbx-2", "phone": "13900000000"}, actor=SYSTEM)
    assert missing.created == 0 and missing.unmatched[0].reason == "sync.unmatched.no_customer"


def test_qualification_is_validated_and_a_stale_edit_is_refused(session, rep, lead):
    # The seeded lists (funnel.customers.lists_seed): a band or competitor is found by code or either name.
    with pytest.raises(ValidationError) as caught:
        save_qualification(
            session, actor=rep, customer_id=lead.id, expected_version=lead.version, budget_band="huge",
            budget_amount="lots", purchase_month="2027-13", use_case=None, competitors=None, decision_process=None,
        )  # fmt: skip
    assert set(caught.value.by_field()) == {"budget_range", "budget_amount", "purchase_timeline"}
    version = lead.version
    save_qualification(
        session, actor=rep, customer_id=lead.id, expected_version=version, budget_band="100k–300k",
        budget_amount="150,000", purchase_month="2027-3", use_case="lead tracking",
        competitors="fxiaoke、本地小厂", decision_process="CEO signs",
    )  # fmt: skip
    session.refresh(lead)
    assert (lead.budget_range, lead.purchase_timeline, lead.competitors) == (
        "10-30万",
        "2027-03",
        "纷享销客、本地小厂",  # a competitor not on the list is kept as typed
    )
    with pytest.raises(StaleEdit):
        save_qualification(
            session, actor=rep, customer_id=lead.id, expected_version=version, budget_band=None,
            budget_amount=None, purchase_month=None, use_case=None, competitors=None, decision_process=None,
        )  # fmt: skip


def test_a_stage_move_meanwhile_does_not_make_the_qualification_form_stale(session, rep, lead):
    # The form was filled from the qualification at `version`; the rep then moved the stage (a new
    # version, the qualification untouched): the save goes through. A qualification saved meanwhile
    # by someone else is still refused.
    loaded = read_qualification(session, actor=rep, customer_id=lead.id)
    move_stage(session, actor=rep, customer_id=lead.id, to_stage="first_contact")
    session.flush()
    assert lead.version != loaded.version
    fields = dict(budget_amount="80000", purchase_month="2027-05", use_case=None, competitors=None,
                  decision_process=None)  # fmt: skip
    save_qualification(
        session, actor=rep, customer_id=lead.id, expected_version=loaded.version, budget_band=None,
        loaded=loaded, **fields,
    )  # fmt: skip
    session.refresh(lead)
    assert (lead.budget_amount, lead.purchase_timeline) == (Decimal("80000.00"), "2027-05")
    with pytest.raises(StaleEdit):
        save_qualification(
            session, actor=rep, customer_id=lead.id, expected_version=loaded.version, budget_band=None,
            loaded=loaded, **{**fields, "budget_amount": "90000"},
        )  # fmt: skip


def test_grading_is_audited_and_a_row_changed_meanwhile_is_reported(session, rep, lead, role_users):
    other = create_lead(
        session,
        LeadInput(name="李四", email="li@x.cn", owner_id=role_users["rep"].id, stage="qualify"),
        actor=SYSTEM,
    )
    session.flush()
    table = grading_table(session, actor=rep)
    assert list(table["customer_no"]) == [other.customer_no]
    result = set_grades(
        session, actor=rep, changes=[(other.id, "A", other.version), (lead.id, "B", lead.version - 1)]
    )
    assert result.graded == [other.customer_no] and result.stale == [lead.customer_no]
    session.refresh(other)
    assert other.grade == "A"
    row = session.scalar(select(AuditLog).where(AuditLog.action == "grade"))
    assert row.changes == {"grade": [None, "A"]} and row.user_id == rep.user_id
    with pytest.raises(ValidationError):
        set_grade(session, actor=rep, customer_id=other.id, grade="D")
    with pytest.raises(PermissionDenied):
        set_grade(session, actor=Actor.of(role_users["rep2"]), customer_id=other.id, grade="C")


def test_speed_to_lead_per_owner(session, rep, lead, role_users):
    lead.created_at = utcnow() - timedelta(hours=3)
    create_lead(
        session, LeadInput(name="waiting", email="w@x.cn", owner_id=role_users["rep"].id), actor=SYSTEM
    )
    session.flush()
    log_activity(
        session,
        actor=rep,
        customer_id=lead.id,
        kind="call",
        at=lead.created_at + timedelta(minutes=30),
        note="hi",
    )
    frame = speed_to_lead(session, actor=rep)
    row = frame.set_index("group").loc["REP"]
    assert (row["leads"], row["contacted"], row["waiting"]) == (2, 1, 1)
    assert row["median_minutes"] == pytest.approx(30, abs=0.1)
    assert row["within_sla"] == 1.0
    assert session.scalar(select(Customer.id).where(Customer.first_contacted_at.is_(None))) is not None


def test_speed_to_lead_percentiles_stream_and_equal_pandas(session, role_users):
    # Two owners and an unowned group, odd and even counts, a contact logged before creation (0 minutes):
    # the streamed percentiles equal pandas' median and quantile(0.8) of the same minutes.
    delays = {
        role_users["rep"].id: [5, 90, 30, 2000, 45, 1],
        role_users["rep2"].id: [10, 20, 700],
        None: [-30, 15],
    }
    now = utcnow().replace(microsecond=0)
    for owner_id, minutes in delays.items():
        for i, m in enumerate(minutes):
            created = now - timedelta(days=3, minutes=i)
            customer = create_lead(
                session,
                LeadInput(name=f"s{owner_id}-{i}", email=f"s{owner_id}-{i}@x.cn", owner_id=owner_id),
                actor=SYSTEM,
            )
            customer.created_at = created
            customer.first_contacted_at = created + timedelta(minutes=m)
    session.flush()
    frame = speed_to_lead(session, actor=SYSTEM).set_index("group")
    names = {role_users["rep"].id: "REP", role_users["rep2"].id: "REP2", None: "-"}
    for owner_id, minutes in delays.items():
        clipped = pd.Series([max(m, 0) for m in minutes], dtype=float)
        row = frame.loc[names[owner_id]]
        assert row["median_minutes"] == pytest.approx(clipped.median(), abs=0.01)
        assert row["p80_minutes"] == pytest.approx(clipped.quantile(0.8), abs=0.01)
        assert row["within_sla"] == pytest.approx(float((clipped <= 24 * 60).mean()))

"""Losing and reopening a customer takes a reason of a managed list, audited, counted by reason."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from funnel.access.permissions import SYSTEM, Actor
from funnel.analytics.reasons import competitor_mentions, lost_by_reason, open_by_budget_band
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.errors import ValidationError
from funnel.customers.stages import lost_reason_text, move_stage
from funnel.store.models import AuditLog, Customer
from funnel.working.qualification import save_qualification


def _lead(session, name: str, owner=None, **fields) -> Customer:
    lead = LeadInput(name=name, email=f"{name.lower()}@x.cn", owner_id=owner.id if owner else None, **fields)
    customer = create_lead(session, lead, actor=SYSTEM)
    session.flush()
    return customer


def _errors(caught: pytest.ExceptionInfo[ValidationError]) -> dict[str, str]:
    return {e.field: e.code for e in caught.value.errors}


def test_a_lost_reason_must_come_from_the_list_and_other_needs_a_note(session, role_users):
    rep = Actor.of(role_users["rep"])
    customer = _lead(session, "Acme", role_users["rep"])
    with pytest.raises(ValidationError) as caught:
        move_stage(session, customer_id=customer.id, to_stage="lost", lost_reason="they hated us", actor=rep)
    assert _errors(caught) == {"lost_reason": "stage.error.reason_unknown"}
    with pytest.raises(ValidationError) as caught:
        move_stage(session, customer_id=customer.id, to_stage="lost", lost_reason="other", actor=rep)
    assert _errors(caught) == {"lost_note": "stage.error.note_required"}
    assert customer.status == "open"

    move_stage(
        session, customer_id=customer.id, to_stage="lost", lost_reason="Other", lost_note="moved abroad",
        actor=rep,
    )  # fmt: skip
    assert (customer.status, customer.lost_reason, customer.lost_note) == ("lost", "other", "moved abroad")
    assert lost_reason_text(session, actor=rep, customer_id=customer.id, lang="zh") == "其他: moved abroad"
    row = session.scalars(select(AuditLog).where(AuditLog.action == "stage_move")).all()[-1]
    assert row.changes["lost_reason"] == [None, "other"] and row.changes["lost_note"] == [
        None,
        "moved abroad",
    ]


def test_reopening_a_lost_customer_needs_a_reason_and_is_audited(session, role_users):
    rep = Actor.of(role_users["rep"])
    customer = _lead(session, "Acme", role_users["rep"])
    move_stage(session, customer_id=customer.id, to_stage="lost", lost_reason="价格", actor=rep)
    assert customer.lost_reason == "price"  # the Chinese name found its code
    with pytest.raises(ValidationError) as caught:
        move_stage(session, customer_id=customer.id, to_stage="contact", actor=rep)
    assert _errors(caught) == {"reopen_reason": "error.required"}
    with pytest.raises(ValidationError) as caught:
        move_stage(session, customer_id=customer.id, to_stage="contact", reopen_reason="other", actor=rep)
    assert _errors(caught) == {"reopen_note": "stage.error.note_required"}

    move_stage(
        session, customer_id=customer.id, to_stage="contact", reopen_reason="Budget approved", actor=rep
    )
    assert (customer.status, customer.stage, customer.lost_reason) == ("open", "contact", None)
    row = session.scalars(select(AuditLog).where(AuditLog.action == "stage_move")).all()[-1]
    assert row.changes["reopen_reason"] == [None, "budget_approved"]
    assert row.changes["status"] == ["lost", "open"] and row.user_id == rep.user_id


def test_lost_by_reason_counts_codes_with_both_names_keeps_old_text_and_scopes_the_reader(
    session, role_users
):
    for n, (reason, owner) in enumerate(
        [("price", "rep"), ("price", "rep"), ("competitor", "rep"), ("timing", "rep2")]
    ):
        customer = _lead(session, f"L{n}", role_users[owner])
        move_stage(session, customer_id=customer.id, to_stage="lost", lost_reason=reason, actor=SYSTEM)
    _lead(session, "Old", role_users["rep"], status="lost", lost_reason="价格太高")  # imported free text
    _lead(session, "Open", role_users["rep"])

    counts = lost_by_reason(session, actor=Actor.of(role_users["manager"]))
    by_code = {row.code: row for row in counts}
    assert [(r.code, r.count) for r in counts[:2]] == [("price", 2), ("competitor", 1)]
    assert (by_code["price"].name_en, by_code["price"].name_zh, by_code["price"].listed) == (
        "Price",
        "价格",
        True,
    )
    assert (by_code["价格太高"].count, by_code["价格太高"].listed, by_code["价格太高"].label("en")) == (
        1,
        False,
        "价格太高",
    )
    assert by_code["no_budget"].count == 0  # every reason of the list is there for the chart
    assert sum(row.count for row in counts) == 5

    mine = {row.code: row.count for row in lost_by_reason(session, actor=Actor.of(role_users["rep"]))}
    assert (mine["price"], mine["timing"]) == (2, 0)  # rep2's loss is not the rep's to read


def test_open_customers_by_budget_band_and_competitor_mentions(session, role_users):
    rep = Actor.of(role_users["rep"])
    for n, (band, rivals) in enumerate(
        [("10-30万", "销售易、本地小厂"), ("10-30万", "Salesforce"), ("100万以上", "销售易"), (None, None)]
    ):
        customer = _lead(session, f"Q{n}", role_users["rep"])
        save_qualification(
            session, actor=rep, customer_id=customer.id, expected_version=customer.version, budget_band=band,
            budget_amount=None, purchase_month=None, use_case=None, competitors=rivals, decision_process=None,
        )  # fmt: skip
    bands = {row.code: row.count for row in open_by_budget_band(session, actor=rep)}
    assert (bands["10-30万"], bands["100万以上"], bands["10万以下"], bands[""]) == (2, 1, 0, 1)
    mentions = competitor_mentions(session, actor=rep)
    assert [(r.code, r.count) for r in mentions[:2]] == [("销售易", 2), ("Salesforce", 1)]
    assert {r.code: r.count for r in mentions}["金蝶"] == 0
    other_rep = {r.code: r.count for r in competitor_mentions(session, actor=Actor.of(role_users["rep2"]))}
    assert other_rep["销售易"] == 0  # scoped to what the reader may see

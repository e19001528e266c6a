"""Contracts (approval, rejection, signing -> won + delivery told), payment plans, receipts, balances,
overdue instalments, and nothing signed is lost (archive instead of delete; undo a delete in 30 days)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.closing import archive, contracts, payments
from funnel.core.clock import utcnow
from funnel.core.errors import PermissionDenied, ValidationError
from funnel.customers.edit import delete_customer
from funnel.store.models import Contract, Customer, Notification, Task, User
from tests.integration.closing.helpers import customer


def act(user: User) -> Actor:
    return Actor.of(user)


def signed_contract(session: Session, role_users: dict[str, User], amount: str = "100000") -> Contract:
    rep, manager = role_users["rep"], role_users["manager"]
    deal = customer(session, rep)
    draft = contracts.create_contract(
        session, actor=act(rep), customer_id=deal.id, amount=amount, contract_no="HT-1"
    )
    contracts.submit_contract(session, actor=act(rep), contract_id=draft.id)
    return contracts.approve_contract(session, actor=act(manager), contract_id=draft.id)


def test_a_submitted_contract_waits_and_the_manager_is_told(
    session: Session, role_users: dict[str, User]
) -> None:
    rep = role_users["rep"]
    deal = customer(session, rep)
    draft = contracts.create_contract(
        session, actor=act(rep), customer_id=deal.id, amount="50,000", contract_no="A1"
    )
    assert draft.status == "draft" and draft.amount == Decimal("50000.00")
    contracts.submit_contract(session, actor=act(rep), contract_id=draft.id)
    assert draft.status == "pending" and deal.status == "open"
    told = session.scalars(select(Notification.user_id).where(Notification.kind == "contract_pending")).all()
    assert role_users["manager"].id in told and rep.id not in told
    with pytest.raises(PermissionDenied):
        contracts.approve_contract(session, actor=act(rep), contract_id=draft.id)


def test_approval_signs_marks_won_tells_delivery_and_opens_onboarding(
    session: Session, role_users: dict[str, User]
) -> None:
    rep, manager, pm = role_users["rep"], role_users["manager"], role_users["rep2"]
    deal = customer(session, rep)
    draft = contracts.create_contract(
        session, actor=act(rep), customer_id=deal.id, amount="80000", project_manager_id=pm.id
    )
    contracts.submit_contract(session, actor=act(rep), contract_id=draft.id)
    contracts.approve_contract(session, actor=act(manager), contract_id=draft.id)
    session.refresh(deal)
    assert draft.status == "signed" and draft.approver_id == manager.id and draft.signed_on is not None
    assert deal.status == "won" and deal.furthest_stage == "won"
    told = set(session.scalars(select(Notification.user_id).where(Notification.kind == "contract_signed")))
    assert told == {role_users["delivery"].id, pm.id}
    task = session.scalars(select(Task).where(Task.customer_id == deal.id, Task.kind == "onboarding")).one()
    assert task.owner_id == pm.id and task.rule_key == f"contract:{draft.id}"


def test_rejection_needs_a_reason_and_tells_the_rep_who_may_resubmit(
    session: Session, role_users: dict[str, User]
) -> None:
    rep, manager = role_users["rep"], role_users["manager"]
    deal = customer(session, rep)
    draft = contracts.create_contract(session, actor=act(rep), customer_id=deal.id, amount="9000")
    contracts.submit_contract(session, actor=act(rep), contract_id=draft.id)
    with pytest.raises(ValidationError) as refused:
        contracts.reject_contract(session, actor=act(manager), contract_id=draft.id, reason="  ")
    assert refused.value.by_field()["rejected_reason"].code == "error.required"
    contracts.reject_contract(session, actor=act(manager), contract_id=draft.id, reason="price too low")
    assert draft.status == "rejected" and deal.status == "open"
    assert session.scalars(
        select(Notification.user_id).where(Notification.kind == "contract_rejected")
    ).all() == [rep.id]
    contracts.submit_contract(session, actor=act(rep), contract_id=draft.id)
    assert draft.status == "pending" and draft.rejected_reason is None


def test_below_the_approval_amount_submitting_signs(
    session: Session, role_users: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    from funnel.core.settings import get_settings

    monkeypatch.setenv("CRM_CONTRACT_APPROVAL_AMOUNT", "10000")
    get_settings.cache_clear()
    rep = role_users["rep"]
    deal = customer(session, rep)
    small = contracts.create_contract(session, actor=act(rep), customer_id=deal.id, amount="9999.99")
    contracts.submit_contract(session, actor=act(rep), contract_id=small.id)
    assert small.status == "signed" and deal.status == "won"


def test_bad_amounts_are_refused_on_the_field(session: Session, role_users: dict[str, User]) -> None:
    deal = customer(session, role_users["rep"])
    for bad in ("abc", "-5", "0", "1e20", ""):
        with pytest.raises(ValidationError) as refused:
            contracts.create_contract(session, actor=act(role_users["rep"]), customer_id=deal.id, amount=bad)
        assert "amount" in refused.value.by_field()


def test_a_rep_may_not_draft_for_another_reps_customer(session: Session, role_users: dict[str, User]) -> None:
    deal = customer(session, role_users["rep2"])
    with pytest.raises(PermissionDenied):
        contracts.create_contract(session, actor=act(role_users["rep"]), customer_id=deal.id, amount="100")


def test_plan_receipts_balances_and_overdue(session: Session, role_users: dict[str, User]) -> None:
    contract = signed_contract(session, role_users, "100000")
    finance = act(role_users["delivery"])
    today = date.today()
    with pytest.raises(ValidationError) as refused:
        payments.set_plan(
            session, actor=finance, contract_id=contract.id, instalments=[("60000", today), ("50000", today)]
        )
    assert "instalments" in refused.value.by_field()
    payments.set_plan(
        session,
        actor=finance,
        contract_id=contract.id,
        instalments=[("30000", today - timedelta(days=10)), ("70000", today - timedelta(days=1))],
    )
    assert [o.amount for o in payments.overdue_instalments(session, today=today)] == [
        Decimal("30000.00"),
        Decimal("70000.00"),
    ]
    payments.record_payment(
        session, actor=finance, contract_id=contract.id, amount="40000", received_on=today
    )
    overdue = payments.overdue_instalments(session, today=today)
    assert [(o.due_on, o.amount) for o in overdue] == [(today - timedelta(days=1), Decimal("60000.00"))]
    with pytest.raises(ValidationError) as over:
        payments.record_payment(session, actor=finance, contract_id=contract.id, amount="60000.01")
    assert over.value.by_field()["amount"].code == "closing.error.overpaid"
    table = payments.contract_balances(session, actor=finance)
    assert table.loc[0, ["amount", "paid", "outstanding"]].tolist() == [100000.0, 40000.0, 60000.0]
    balance = payments.customer_balance(session, actor=finance, customer_id=contract.customer_id)
    assert balance.outstanding == Decimal("60000.00")
    assert payments.plan_table(session, actor=finance, contract_id=contract.id)["open"].tolist() == [
        0.0,
        60000.0,
    ]
    payments.record_payment(session, actor=finance, contract_id=contract.id, amount="60000")
    assert payments.overdue_instalments(session, today=today) == []


def test_a_rep_may_not_record_a_payment(session: Session, role_users: dict[str, User]) -> None:
    contract = signed_contract(session, role_users)
    with pytest.raises(PermissionDenied):
        payments.record_payment(session, actor=act(role_users["rep"]), contract_id=contract.id, amount="1")


def test_a_customer_with_signed_business_is_archived_not_deleted(
    session: Session, role_users: dict[str, User]
) -> None:
    contract = signed_contract(session, role_users)
    manager = act(role_users["manager"])
    with pytest.raises(ValidationError) as refused:
        delete_customer(session, actor=manager, customer_id=contract.customer_id)
    assert refused.value.errors[0].code == "error.delete_signed"
    archived = archive.archive_customer(session, actor=manager, customer_id=contract.customer_id)
    assert archived.archived_at is not None and session.get(Customer, contract.customer_id) is not None


def test_a_delete_is_undone_by_an_admin_with_its_rows(session: Session, role_users: dict[str, User]) -> None:
    rep, admin = role_users["rep"], act(role_users["admin"])
    deal = customer(session, rep)
    draft = contracts.create_contract(session, actor=act(rep), customer_id=deal.id, amount="500")
    deal_id, number, draft_id = deal.id, deal.customer_no, draft.id
    delete_customer(session, actor=admin, customer_id=deal_id)
    session.expire_all()
    assert session.get(Customer, deal_id) is None and session.get(Contract, draft_id) is None
    trash = archive.deleted_customers(session, actor=admin)
    assert trash["customer_no"].tolist() == [number]
    with pytest.raises(PermissionDenied):
        archive.restore_customer(
            session, actor=act(role_users["manager"]), deleted_id=int(trash.loc[0, "id"])
        )
    late = utcnow() + timedelta(days=31)
    with pytest.raises(ValidationError):
        archive.restore_customer(session, actor=admin, deleted_id=int(trash.loc[0, "id"]), now=late)
    assert archive.restore_customer(session, actor=admin, deleted_id=int(trash.loc[0, "id"])) == deal_id
    session.commit()
    back = session.get(Customer, deal_id)
    assert back is not None and back.customer_no == number
    assert session.get(Contract, draft_id) is not None
    with pytest.raises(ValidationError):
        archive.restore_customer(session, actor=admin, deleted_id=int(trash.loc[0, "id"]))

"""Contracts / orders: draft -> pending (waiting for approval) -> signed, or rejected.

Signing is the one place a contract makes a customer won: it moves the customer through the stage write
path (`move_stage`), tells every delivery user and the order's project manager, and opens an onboarding
task. The approval thresholds are settings (CRM_CONTRACT_APPROVAL_AMOUNT, CRM_CONTRACT_ADMIN_AMOUNT).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from funnel.access.permissions import ROLE_PERMISSIONS, SYSTEM, Actor, allowed, customer_scope, require
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.closing.common import clean_amount, clean_date, clean_str, customer_for
from funnel.core import events
from funnel.core.clock import day_start_utc, team_today, utcnow
from funnel.core.db import get_by_id, take_write_lock
from funnel.core.errors import FieldError, NotFound, PermissionDenied, ValidationError
from funnel.core.i18n import t
from funnel.core.settings import get_settings
from funnel.customers.stages import move_stage
from funnel.inbox.notify import notify
from funnel.pipeline.stages import WON
from funnel.store.models import Contract, Customer, Opportunity, Task, User

DRAFT, PENDING, SIGNED, REJECTED = "draft", "pending", "signed", "rejected"
STATUSES = (DRAFT, PENDING, SIGNED, REJECTED)
ONBOARDING_DAYS = 3  # the onboarding task is due this many days after signing


@dataclass(frozen=True)
class ContractSigned(events.DomainEvent):
    """A contract was signed (the group bot and other after-commit side effects hang on it)."""

    customer_id: int
    contract_id: int
    amount: float


def _audit(
    session: Session, actor: Actor, contract: Contract, action: AuditAction, changes: dict[str, list[object]]
) -> None:
    audit.record(
        session,
        action=action,
        entity=AuditEntity.CONTRACT,
        entity_id=contract.id,
        customer_id=contract.customer_id,
        user_id=actor.user_id,
        changes=changes,
    )


def _check_user(session: Session, field: str, user_id: int | None, errors: list[FieldError]) -> None:
    if user_id is None:
        return
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        errors.append(FieldError(field, "closing.error.user_invalid"))


def create_contract(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    amount: object,
    contract_no: object = None,
    opportunity_id: int | None = None,
    project_manager_id: int | None = None,
    document_id: int | None = None,
    external_id: str | None = None,
) -> Contract:
    """A draft contract for a customer the actor works (customer.edit)."""
    take_write_lock(session)
    customer = customer_for(session, actor, customer_id, "customer.edit")
    errors: list[FieldError] = []
    value = clean_amount("amount", amount, errors)
    number = clean_str("contract_no", contract_no, errors, max_length=64)
    _check_user(session, "project_manager_id", project_manager_id, errors)
    if opportunity_id is not None:
        opportunity = session.get(Opportunity, opportunity_id)
        if opportunity is None or opportunity.customer_id != customer.id:
            errors.append(FieldError("opportunity_id", "closing.error.opportunity_other"))
    if errors:
        raise ValidationError(errors)
    assert value is not None
    contract = Contract(
        customer_id=customer.id,
        opportunity_id=opportunity_id,
        contract_no=number,
        amount=value,
        signed_on=None,
        status=DRAFT,
        project_manager_id=project_manager_id,
        document_id=document_id,
        external_id=external_id,
        by_user_id=actor.user_id,
        created_at=utcnow(),
    )
    session.add(contract)
    session.flush()
    _audit(
        session,
        actor,
        contract,
        AuditAction.CREATE,
        {"amount": [None, float(value)], "status": [None, DRAFT]},
    )
    return contract


def get_contract(
    session: Session, *, actor: Actor, contract_id: int, action: str = "customer.read"
) -> Contract:
    contract = get_by_id(session, Contract, contract_id)
    if contract is None:
        raise NotFound("contract", contract_id)
    customer_for(session, actor, contract.customer_id, action)
    return contract


def needs_approval(amount: Decimal) -> bool:
    return amount >= get_settings().contract_approval_amount


def may_approve(actor: Actor, amount: Decimal) -> bool:
    """Whether `actor` may approve a contract of `amount` (contract.approve; admins only above the limit)."""
    limit = get_settings().contract_admin_amount
    if limit and amount >= limit and actor.role not in ("admin", "system"):
        return False
    return "contract.approve" in _permissions(actor)


def _permissions(actor: Actor) -> frozenset[str]:
    return ROLE_PERMISSIONS.get(actor.role, frozenset())


def submit_contract(session: Session, *, actor: Actor, contract_id: int) -> Contract:
    """Send a draft (or a rejected one, corrected) for approval; below the approval amount it is signed."""
    take_write_lock(session)
    contract = get_contract(session, actor=actor, contract_id=contract_id, action="customer.edit")
    if contract.status not in (DRAFT, REJECTED):
        raise ValidationError(
            [FieldError("status", "closing.error.contract_state", {"status": contract.status})]
        )
    contract.submitted_at = utcnow()
    if not needs_approval(contract.amount):
        return sign_contract(session, actor=actor, contract=contract)
    before = contract.status
    contract.status = PENDING
    contract.rejected_reason = None
    _audit(session, actor, contract, AuditAction.SUBMIT, {"status": [before, PENDING]})
    customer = session.get(Customer, contract.customer_id)
    assert customer is not None
    for user_id in _approvers(session, customer, contract.amount):
        notify(
            session,
            user_id=user_id,
            kind="contract_pending",
            params=_params(customer, contract),
            customer_id=customer.id,
        )
    return contract


def _approvers(session: Session, customer: Customer, amount: Decimal) -> list[int]:
    """Active managers of the customer's team (or without a team) and admins who may approve `amount`."""
    users = session.scalars(
        select(User).where(
            User.is_active.is_(True),
            User.role.in_(("manager", "admin")),
            or_(User.role == "admin", User.team.is_(None), User.team == customer.team),
        )
    )
    return [u.id for u in users if may_approve(Actor.of(u), amount)]


def _params(customer: Customer, contract: Contract) -> dict[str, object]:
    return {
        "customer_no": customer.customer_no,
        "customer": customer.name,
        "contract_no": contract.contract_no or f"#{contract.id}",
        "amount": f"{contract.amount:,.2f}",
    }


def approve_contract(
    session: Session, *, actor: Actor, contract_id: int, signed_on: object = None
) -> Contract:
    """A manager signs off a pending contract: it is signed (see `sign_contract`)."""
    take_write_lock(session)
    require(actor, "contract.approve")
    contract = get_contract(session, actor=actor, contract_id=contract_id)
    if contract.status != PENDING:
        raise ValidationError(
            [FieldError("status", "closing.error.contract_state", {"status": contract.status})]
        )
    if not may_approve(actor, contract.amount):
        raise PermissionDenied("contract.approve", contract.contract_no or str(contract.id))
    errors: list[FieldError] = []
    day = clean_date("signed_on", signed_on, errors)
    if errors:
        raise ValidationError(errors)
    contract.approver_id = actor.user_id
    return sign_contract(session, actor=actor, contract=contract, signed_on=day)


def reject_contract(session: Session, *, actor: Actor, contract_id: int, reason: object) -> Contract:
    """A manager sends a pending contract back with a reason; the rep may correct and resubmit it."""
    take_write_lock(session)
    require(actor, "contract.approve")
    contract = get_contract(session, actor=actor, contract_id=contract_id)
    if contract.status != PENDING:
        raise ValidationError(
            [FieldError("status", "closing.error.contract_state", {"status": contract.status})]
        )
    errors: list[FieldError] = []
    text = clean_str("rejected_reason", reason, errors, max_length=500)
    if text is None and not errors:
        errors.append(FieldError("rejected_reason", "error.required"))
    if errors:
        raise ValidationError(errors)
    contract.status = REJECTED
    contract.rejected_reason = text
    contract.approver_id = actor.user_id
    contract.decided_at = utcnow()
    _audit(
        session,
        actor,
        contract,
        AuditAction.REJECT,
        {"status": [PENDING, REJECTED], "rejected_reason": [None, text]},
    )
    if contract.by_user_id is not None:
        customer = session.get(Customer, contract.customer_id)
        assert customer is not None
        notify(
            session,
            user_id=contract.by_user_id,
            kind="contract_rejected",
            params={**_params(customer, contract), "reason": text},
            customer_id=customer.id,
        )
    return contract


def sign_contract(
    session: Session,
    *,
    actor: Actor,
    contract: Contract,
    signed_on: date | None = None,
    tell_delivery: bool = True,
) -> Contract:
    """The one signing path: the contract signed, the customer won through `move_stage`, delivery told,
    an onboarding task opened. `tell_delivery` is off only for historical rows of an import."""
    now = utcnow()
    before = contract.status
    contract.status = SIGNED
    contract.signed_on = signed_on or team_today()
    contract.decided_at = now
    _audit(
        session,
        actor,
        contract,
        AuditAction.APPROVE,
        {"status": [before, SIGNED], "signed_on": [None, contract.signed_on.isoformat()]},
    )
    customer = session.get(Customer, contract.customer_id)
    assert customer is not None
    if customer.status != WON:
        # Won on the day it was signed: today's signing now, an earlier date at that day's start.
        at = now if contract.signed_on >= team_today() else day_start_utc(contract.signed_on)
        move_stage(session, customer_id=customer.id, to_stage=WON, actor=_mover(actor), at=at)
    session.flush()
    if tell_delivery:
        params = _params(customer, contract)
        told = set(session.scalars(select(User.id).where(User.role == "delivery", User.is_active.is_(True))))
        if contract.project_manager_id is not None:
            told.add(contract.project_manager_id)
        for user_id in sorted(told):
            notify(session, user_id=user_id, kind="contract_signed", params=params, customer_id=customer.id)
        session.add(
            Task(
                customer_id=customer.id,
                owner_id=contract.project_manager_id or customer.owner_id,
                kind="onboarding",
                title=t("closing.task.onboarding", get_settings().language, **params)[:300],
                due_at=now + timedelta(days=ONBOARDING_DAYS),
                rule="onboarding",
                rule_key=f"contract:{contract.id}",
                created_at=now,
            )
        )
    events.record(session, ContractSigned(customer.id, contract.id, float(contract.amount)))
    return contract


def _mover(actor: Actor) -> Actor:
    """Who moves the customer to won: the signer, or for a delivery user (who may not edit customers)
    the system on their behalf (the audit row of the contract names the person)."""
    return actor if allowed(actor, "customer.edit") else SYSTEM


def contracts_table(
    session: Session, *, actor: Actor, status: str | None = None, customer_id: int | None = None
) -> pd.DataFrame:
    """Contracts of the customers `actor` may see (an approval queue with status="pending")."""
    require(actor, "customer.read")
    stmt = (
        select(
            Contract.id,
            Customer.id.label("customer_id"),
            Customer.customer_no,
            Customer.name.label("customer"),
            Contract.contract_no,
            Contract.amount,
            Contract.status,
            Contract.signed_on,
            Contract.submitted_at,
            Contract.rejected_reason,
        )
        .join(Customer, Customer.id == Contract.customer_id)
        .where(*customer_scope(session, actor).conditions())
        .order_by(Contract.created_at.desc(), Contract.id.desc())
    )
    if status is not None:
        stmt = stmt.where(Contract.status == status)
    if customer_id is not None:
        stmt = stmt.where(Contract.customer_id == customer_id)
    columns = ["id", "customer_id", "customer_no", "customer", "contract_no", "amount", "status", "signed_on",
               "submitted_at", "rejected_reason"]  # fmt: skip
    frame = pd.DataFrame(session.execute(stmt).all(), columns=columns)
    frame["amount"] = frame["amount"].astype("float64")
    return frame


def pending_for(session: Session, *, actor: Actor) -> pd.DataFrame:
    """The approval queue: pending contracts `actor` may approve."""
    require(actor, "contract.approve")
    frame = contracts_table(session, actor=actor, status=PENDING)
    keep = [may_approve(actor, Decimal(str(a))) for a in frame["amount"]]
    return frame[keep].reset_index(drop=True)

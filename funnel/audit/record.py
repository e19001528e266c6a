"""The audit trail: who changed what, when, with each field's old and new value."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.core.clock import utcnow
from funnel.store.models import AuditLog, Customer


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def diff(old: dict[str, object], new: dict[str, object]) -> dict[str, list[object]]:
    """Fields whose value changed, as {field: [old, new]}."""
    changed: dict[str, list[object]] = {}
    for key, value in new.items():
        before, after = _plain(old.get(key)), _plain(value)
        if before != after:
            changed[key] = [before, after]
    return changed


def record(
    session: Session,
    *,
    action: AuditAction,
    entity: AuditEntity,
    entity_id: int | None,
    customer_id: int | None = None,
    user_id: int | None = None,
    changes: dict[str, list[object]] | None = None,
    at: datetime | None = None,
) -> None:
    """Add one audit row to the session's transaction."""
    session.add(
        AuditLog(
            **row(
                action=action,
                entity=entity,
                entity_id=entity_id,
                customer_id=customer_id,
                user_id=user_id,
                changes=changes,
                at=at,
            )
        )
    )


def row(
    *,
    action: AuditAction,
    entity: AuditEntity,
    entity_id: int | None,
    customer_id: int | None = None,
    user_id: int | None = None,
    changes: dict[str, list[object]] | None = None,
    at: datetime | None = None,
) -> dict[str, object]:
    """The values of one audit row, for `record` or a bulk insert of many (an import)."""
    return {
        "action": action.value,
        "entity": entity.value,
        "entity_id": entity_id,
        "customer_id": customer_id,
        "user_id": user_id,
        "changes": changes or None,
        "at": at or utcnow(),
    }


def record_customer(
    session: Session,
    *,
    actor: Actor,
    customer: Customer,
    action: AuditAction,
    changes: dict[str, list[object]] | None,
) -> None:
    """Add one audit row about `customer`, done by `actor` (SYSTEM and PUBLIC rows have no user)."""
    record(
        session,
        action=action,
        entity=AuditEntity.CUSTOMER,
        entity_id=customer.id,
        customer_id=customer.id,
        user_id=actor.user_id,
        changes=changes,
    )

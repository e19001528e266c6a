"""Tagging customers in bulk (the leads list's bulk action): links to values of the managed list `tag`."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, require, require_customer
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction
from funnel.core.db import take_write_lock
from funnel.core.errors import FieldError, ValidationError
from funnel.customers.lists import find_value
from funnel.customers.read import get_customer
from funnel.store.models import CustomerTag

TAG_LIST = "tag"


def add_tags(session: Session, actor: Actor, customer_ids: Sequence[int], tag_codes: Sequence[str]) -> int:
    """Link each customer to each tag (a code, or a name in either language); returns the links added.

    Every customer is checked against the actor's scope; an unknown tag refuses the whole batch, naming it.
    Links a customer already has are left alone, so running it twice adds nothing twice.
    """
    require(actor, "customer.assign")  # a bulk action of the leads list, for managers
    take_write_lock(session)
    tags = {}
    errors = []
    for code in tag_codes:
        value = find_value(session, TAG_LIST, code)
        if value is None:
            errors.append(FieldError("tags", "error.tag_unknown", {"value": code}))
        else:
            tags[value.id] = value.code
    if errors:
        raise ValidationError(errors)
    added = 0
    for customer_id in dict.fromkeys(customer_ids):
        customer = get_customer(session, actor=actor, customer_id=customer_id)
        require_customer(session, actor, customer, "customer.edit")
        have = set(session.scalars(select(CustomerTag.tag_id).where(CustomerTag.customer_id == customer.id)))
        new = [tag_id for tag_id in tags if tag_id not in have]
        for tag_id in new:
            session.add(CustomerTag(customer_id=customer.id, tag_id=tag_id))
        if new:
            added += len(new)
            changes: dict[str, list[object]] = {"tags": [None, ", ".join(sorted(tags[t] for t in new))]}
            audit.record_customer(
                session, actor=actor, customer=customer, action=AuditAction.TAG_ADD, changes=changes
            )
    session.flush()
    return added

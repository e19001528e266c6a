"""Bulk actions of the leads list (managers): reassign, tag, untag or grade many customers at once.

Each selected customer goes through the one use case that owns the rule (routing.reassign_many,
tags.set_tags, grading.set_grade) in its own savepoint, checked against the version the list showed: a
row someone changed meanwhile, or one the manager may not touch, is refused with its reasons and leaves
the others done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, require
from funnel.capture.routing import reassign_many, tag_codes
from funnel.core.errors import FieldError, UserError
from funnel.customers.read import get_customer, stale_edit
from funnel.customers.tags import set_tags
from funnel.working.grading import set_grade


@dataclass
class BulkResult:
    """What a bulk action did: customers changed, already so, and refused (number, why)."""

    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[tuple[str, list[FieldError]]] = field(default_factory=list)


Row = tuple[int, str, int]  # (customer id, customer no., the version the list showed)


def apply_each(
    session: Session, *, actor: Actor, rows: Sequence[Row], write: Callable[[Session, int, int], bool]
) -> BulkResult:
    """`write` (the one use case) for each selected customer, each in a savepoint: one refused row (stale,
    not allowed, invalid) is reported and leaves the others done. `write` returns whether it changed it."""
    require(actor, "customer.assign")  # bulk actions are the managers'
    result = BulkResult()
    for customer_id, number, version in rows:
        try:
            with session.begin_nested():
                customer = get_customer(session, actor=actor, customer_id=customer_id)
                if customer.version != version:
                    raise stale_edit(session, customer)
                changed = write(session, customer_id, version)
            (result.changed if changed else result.unchanged).append(number)
        except UserError as exc:
            result.refused.append((number, list(exc.errors)))
    return result


def bulk_write(action: str, value: Any, *, actor: Actor) -> Callable[[Session, int, int], bool]:
    """The write of one bulk action for one customer, through the use case that owns the rule."""
    require(actor, "customer.assign")  # bulk actions are the managers'

    def reassign(session: Session, customer_id: int, _version: int) -> bool:
        if get_customer(session, actor=actor, customer_id=customer_id).owner_id == value:
            return False
        return reassign_many(session, actor=actor, customer_ids=[customer_id], owner_id=int(value)) > 0

    def retag(session: Session, customer_id: int, _version: int) -> bool:
        have = sorted(tag_codes(session, [customer_id]).get(customer_id, set()))
        want = [*have, value] if action == "tag_add" else [code for code in have if code != value]
        if set(want) == set(have):
            return False
        set_tags(session, actor=actor, customer_id=customer_id, names=want)
        return True

    def grade(session: Session, customer_id: int, version: int) -> bool:
        before = get_customer(session, actor=actor, customer_id=customer_id).grade
        after = set_grade(
            session, actor=actor, customer_id=customer_id, grade=value, expected_version=version
        )
        return after.grade != before

    return {"reassign": reassign, "tag_add": retag, "tag_remove": retag, "grade": grade}[action]

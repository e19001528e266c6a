"""Customers for the closing tests, made through the real lead use case."""

from __future__ import annotations

from itertools import count

from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM
from funnel.capture.leads import LeadInput, create_lead
from funnel.store.models import Customer, User

_serial = count(1)


def customer(session: Session, owner: User | None = None, **fields: object) -> Customer:
    n = next(_serial)
    lead = LeadInput(name=f"Deal {n}", email=f"deal{n}@example.com", stage="proposal", **fields)  # type: ignore[arg-type]
    made = create_lead(session, lead, actor=SYSTEM)
    if owner is not None:
        made.owner_id = owner.id
    session.flush()
    return made

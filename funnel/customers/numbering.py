"""Customer numbers: short, human-readable, unique (C + yymmdd + 5 characters without 0/O/1/I)."""

from __future__ import annotations

import random
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.store.models import Customer

_NO_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def new_customer_no(at: datetime, rng: random.Random | None = None) -> str:
    """A number for a customer created at `at`; `rng` makes it reproducible (the demo), else `secrets`."""
    choose = rng.choice if rng is not None else secrets.choice
    return f"C{at:%y%m%d}" + "".join(choose(_NO_ALPHABET) for _ in range(5))


def unused_customer_no(session: Session, at: datetime) -> str:
    # 32^5 numbers per day: a clash is rare for a form, but checking costs one indexed lookup.
    while True:
        number = new_customer_no(at)
        if session.scalar(select(Customer.id).where(Customer.customer_no == number)) is None:
            return number

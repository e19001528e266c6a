"""Customer numbers: short, human-readable, unique (C + yymmdd + 5 characters without 0/O/1/I)."""

from __future__ import annotations

import random
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.store.models import Customer

_NO_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_SERIALS_PER_DAY = len(_NO_ALPHABET) ** 5
_SERIAL_STRIDE, _DAY_OFFSET = 0x9E3779B1, 0x5BD1E995  # odd (a permutation) and arbitrary


def new_customer_no(at: datetime, rng: random.Random | None = None) -> str:
    """A number for a customer created at `at`; `rng` makes it reproducible (the demo), else `secrets`."""
    choose = rng.choice if rng is not None else secrets.choice
    return f"C{at:%y%m%d}" + "".join(choose(_NO_ALPHABET) for _ in range(5))


def serial_customer_no(at: datetime, serial: int) -> str:
    """The `serial`-th number (0 <= serial < 32^5) of `at`'s day in a scrambled order, for bulk loads.

    Distinct serials give distinct numbers on a day (an odd multiplier permutes 0..32^5-1), so a bulk load
    needs no set of the numbers it made, only a check against those stored before it.
    """
    scrambled = (serial * _SERIAL_STRIDE + at.toordinal() * _DAY_OFFSET) % _SERIALS_PER_DAY
    suffix = "".join(_NO_ALPHABET[(scrambled >> shift) & 31] for shift in (20, 15, 10, 5, 0))
    return f"C{at:%y%m%d}{suffix}"


def unused_customer_no(session: Session, at: datetime) -> str:
    # 32^5 numbers per day: a clash is rare for a form, but checking costs one indexed lookup.
    while True:
        number = new_customer_no(at)
        if session.scalar(select(Customer.id).where(Customer.customer_no == number)) is None:
            return number

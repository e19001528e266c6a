"""Argument types shared by the CLI commands."""

from __future__ import annotations

import argparse
from datetime import date

from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM, Actor
from funnel.accounts.users import find_user
from funnel.core.errors import NotFound


def iso_date(text: str) -> date:
    """An argparse type: a date written YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from exc


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def reader(session: Session, username: str | None) -> Actor:
    """Whom `--as USERNAME` reads as: that user, or the whole company (SYSTEM) without it."""
    if not username:
        return SYSTEM
    user = find_user(session, username)
    if user is None:
        raise NotFound("user", username)
    return Actor.of(user)

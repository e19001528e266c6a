"""The one place that reads the wall clock, so that time rules can be tested at any instant."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, as naive UTC (how every timestamp is stored)."""
    return datetime.now(UTC).replace(tzinfo=None)

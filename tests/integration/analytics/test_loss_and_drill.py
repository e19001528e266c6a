"""Loss-point details and drill-down lists: lost reasons and objections at a stage, who is stuck there
longest, the customers behind a bar; all within the filter and the reader's scope."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM, Actor
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.rollups import drill_customers, lost_reasons_at, objections_at, stuck_at
from funnel.capture.leads import LeadInput, create_lead
from funnel.closing.objections import log_objection
from funnel.store.models import User

NOW = datetime(2026, 6, 30, 12)


@pytest.fixture
def book(session: Session, role_users: dict[str, User]) -> dict[str, int]:
    rows = {
        "old": dict(stage="contact", created_at=datetime(2026, 3, 1, 9), owner_id=role_users["rep"].id),
        "new": dict(stage="contact", created_at=datetime(2026, 6, 20, 9), owner_id=role_users["rep2"].id),
        "moved": dict(stage="contact", created_at=datetime(2026, 1, 1, 9),
                      stage_dates={"contact": datetime(2026, 5, 1, 9)}, owner_id=role_users["rep2"].id),
        "lost1": dict(status="lost", stage="contact", lost_reason="价格太高", channel="展会"),
        "lost2": dict(status="lost", stage="contact", lost_reason="价格太高"),
        "lost3": dict(status="lost", stage="contact"),
        "lost_lead": dict(status="lost", lost_reason="无预算"),
        "won": dict(status="won", stage="closing", channel="展会"),
    }  # fmt: skip
    ids = {}
    for name, fields in rows.items():
        ids[name] = create_lead(
            session, LeadInput(name=name, email=f"{name}@x.cn", **fields), actor=SYSTEM
        ).id
    for name, category in [("old", "price"), ("new", "price"), ("old", "delivery"), ("lost1", "price")]:
        log_objection(session, actor=SYSTEM, customer_id=ids[name], category=category, words="…")
    session.commit()
    return ids


def test_lost_reasons_at_a_stage(session, book):
    frame = lost_reasons_at(session, actor=SYSTEM, stage="contact")
    assert frame.values.tolist() == [["价格太高", 2], ["", 1]]
    assert lost_reasons_at(session, actor=SYSTEM, stage="lead").values.tolist() == [["无预算", 1]]
    filtered = lost_reasons_at(
        session, actor=SYSTEM, stage="contact", filters=CustomerFilter(values={"channel": ("展会",)})
    )
    assert filtered.values.tolist() == [["价格太高", 1]]


def test_objections_at_a_stage_count_objections_and_customers(session, book):
    frame = objections_at(session, actor=SYSTEM, stage="contact")
    assert frame.values.tolist() == [["price", 3, 3], ["delivery", 1, 1]]
    assert objections_at(session, actor=SYSTEM, stage="proposal").empty


def test_the_longest_stuck_come_first_by_when_they_entered_the_stage(session, book, role_users):
    frame = stuck_at(session, actor=SYSTEM, stage="contact", now=NOW)
    # "moved" came in first but reached contact on 1 May; "old" has been at contact since 1 March.
    assert frame["name"].tolist() == ["old", "moved", "new"]
    assert frame["days"].tolist() == [121, 60, 10]
    assert frame["owner"].tolist() == ["REP", "REP2", "REP2"]
    mine = stuck_at(session, actor=Actor.of(role_users["rep"]), stage="contact", now=NOW)
    assert mine["name"].tolist() == ["old"]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"reached": "lead"}, 8),
        ({"reached": "contact"}, 7),  # the three at contact, the three lost there, the won one
        ({"reached": "closing"}, 1),
        ({"reached": "won"}, 1),
        ({"current": "contact"}, 3),
        ({"status": "lost"}, 4),
        ({"status": "won"}, 1),
        ({"event": ("created", datetime(2026, 3, 1), datetime(2026, 6, 21))}, 2),  # old and new
        ({"event": ("created", None, datetime(2026, 3, 1))}, 1),  # moved
        ({"event": ("lost", None, datetime(2099, 1, 1))}, 4),
        ({"event": ("won", datetime(2099, 1, 1), datetime(2099, 2, 1))}, 0),
    ],
)
def test_drill_down_lists_the_customers_behind_a_figure(session, book, kwargs, expected):
    frame, total = drill_customers(session, actor=SYSTEM, **kwargs)
    assert total == expected == len(frame)


def test_drill_down_is_limited_and_filtered(session, book, role_users):
    frame, total = drill_customers(session, actor=SYSTEM, reached="lead", limit=2)
    assert (len(frame), total) == (2, 8)
    frame, total = drill_customers(
        session, actor=SYSTEM, reached="lead", filters=CustomerFilter(values={"channel": ("展会",)})
    )
    assert sorted(frame["name"]) == ["lost1", "won"]
    frame, total = drill_customers(session, actor=Actor.of(role_users["rep2"]), reached="lead")
    assert sorted(frame["name"]) == ["moved", "new"]
    with pytest.raises(ValueError, match="unknown stage"):
        drill_customers(session, actor=SYSTEM, reached="nowhere")

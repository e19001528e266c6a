"""CustomerFilter: every field it offers narrows the customers, and the period by creation or by activity."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM, Actor
from funnel.analytics.filters import ACTIVE, FILTER_FIELDS, CustomerFilter
from funnel.analytics.report import build_report
from funnel.analytics.rollups import segment_values
from funnel.capture.leads import LeadInput, create_lead
from funnel.customers.tag_links import add_tags
from funnel.store.models import Activity, Customer, StageEvent, User


@pytest.fixture
def three(session: Session, role_users: dict[str, User]) -> dict[str, int]:
    """A (Jan, 官网, rep, 东区, tagged 高意向, an activity in March), B (Feb, 展会, rep2, 南区), C (March)."""
    rows = {
        "A": dict(channel="官网", campaign="2026春季展会", team="东区", region="华东", industry="制造业",
                  grade="A", owner_id=role_users["rep"].id, created_at=datetime(2026, 1, 10, 9)),
        "B": dict(channel="展会", campaign="618直播", team="南区", region="华南", industry="零售",
                  grade="B", owner_id=role_users["rep2"].id, created_at=datetime(2026, 2, 10, 9)),
        "C": dict(channel="展会", team="南区", region="华南", grade="C", created_at=datetime(2026, 3, 10, 9)),
    }  # fmt: skip
    ids = {}
    for name, fields in rows.items():
        ids[name] = create_lead(
            session, LeadInput(name=name, email=f"{name}@x.cn", **fields), actor=SYSTEM
        ).id
    add_tags(session, SYSTEM, [ids["A"]], ["高意向"])
    session.add(Activity(customer_id=ids["A"], kind="call", at=datetime(2026, 3, 5, 10)))
    session.commit()
    return ids


def _names(session: Session, filters: CustomerFilter) -> list[str]:
    stmt = select(Customer.name).where(*filters.conditions()).order_by(Customer.name)
    return list(session.scalars(stmt))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, ["A", "B", "C"]),
        ({"channel": ("展会",)}, ["B", "C"]),
        ({"campaign": ("2026春季展会",)}, ["A"]),
        ({"campaign": ("2026春季展会", "618直播")}, ["A", "B"]),
        ({"owner": ("rep2",)}, ["B"]),
        ({"team": ("南区",)}, ["B", "C"]),
        ({"region": ("华东",)}, ["A"]),
        ({"industry": ("零售",)}, ["B"]),
        ({"grade": ("A", "C")}, ["A", "C"]),
        ({"tag": ("高意向",)}, ["A"]),
        ({"tag": ("大客户",)}, []),
        ({"channel": ("展会",), "team": ("南区",), "grade": ("B",)}, ["B"]),
        ({"channel": ()}, ["A", "B", "C"]),  # an empty choice is no filter
    ],
)
def test_each_attribute_narrows_the_customers(session, three, values, expected):
    assert _names(session, CustomerFilter(values=values)) == expected


@pytest.mark.parametrize(
    ("basis", "since", "until", "expected"),
    [
        ("created", date(2026, 3, 1), date(2026, 3, 31), ["C"]),
        ("created", date(2026, 1, 10), date(2026, 2, 9), ["A"]),
        ("created", None, date(2026, 2, 10), ["A", "B"]),
        # Active: C was created (a stage event) in March, A was called in March; B did nothing then.
        ("active", date(2026, 3, 1), date(2026, 3, 31), ["A", "C"]),
        ("active", date(2026, 3, 6), None, ["C"]),
        ("active", date(2026, 4, 1), date(2026, 4, 30), []),
        ("active", None, None, ["A", "B", "C"]),
    ],
)
def test_the_period_selects_by_creation_or_by_activity(session, three, basis, since, until, expected):
    assert _names(session, CustomerFilter(since=since, until=until, basis=basis)) == expected


def test_the_report_takes_every_filter_and_the_readers_scope(session, three, role_users):
    rep = Actor.of(role_users["rep"])
    filters = CustomerFilter(values={"team": ("东区", "南区")}, since=date(2026, 1, 1), basis=ACTIVE)
    assert build_report(session, actor=SYSTEM, filters=filters).overall.total == 3
    assert build_report(session, actor=rep, filters=filters).overall.total == 1  # only the rep's own
    by_team = build_report(session, actor=SYSTEM, by="team", filters=CustomerFilter())
    assert {s.value: s.total for s in by_team.segments} == {"东区": 1, "南区": 2}
    by_campaign = build_report(session, actor=SYSTEM, by="campaign", filters=CustomerFilter())
    assert {s.value: s.total for s in by_campaign.segments} == {"2026春季展会": 1, "618直播": 1, None: 1}


def test_the_filter_bar_offers_the_values_the_reader_may_see(session, three, role_users):
    assert segment_values(session, "tag", actor=SYSTEM) == ["高意向"]
    assert segment_values(session, "team", actor=SYSTEM) == ["东区", "南区"]
    assert segment_values(session, "campaign", actor=SYSTEM) == ["2026春季展会", "618直播"]
    assert segment_values(session, "campaign", actor=Actor.of(role_users["rep2"])) == ["618直播"]
    for name in FILTER_FIELDS:
        segment_values(session, name, actor=SYSTEM)  # every field of the bar has its values


def test_an_unknown_field_or_basis_is_refused():
    with pytest.raises(ValueError, match="cannot filter by 'colour'"):
        CustomerFilter(values={"colour": ("red",)})
    with pytest.raises(ValueError, match="unknown period basis"):
        CustomerFilter(basis="updated")


def test_the_activity_period_equals_a_recount_of_the_history(session, three):
    """The stored last-active time answers "active in the period" as the activity and stage history
    does, for periods that end today, end earlier (a customer active in them and again later), or are
    open at either end."""
    a, b = three["A"], three["B"]
    session.add_all(
        [
            Activity(customer_id=b, kind="call", at=datetime(2026, 2, 20, 10)),
            Activity(customer_id=b, kind="call", at=datetime(2026, 5, 2, 10)),
            Activity(customer_id=a, kind="note", at=datetime(2026, 1, 31, 23, 30)),
        ]
    )
    session.commit()
    moments: dict[str, list[datetime]] = {}
    for name, at in session.execute(select(Customer.name, Activity.at).join(Activity)):
        moments.setdefault(name, []).append(at)
    for name, at in session.execute(select(Customer.name, StageEvent.at).join(StageEvent)):
        moments.setdefault(name, []).append(at)
    days = [None, date(2026, 1, 1), date(2026, 1, 31), date(2026, 2, 1), date(2026, 2, 20), date(2026, 3, 5),
            date(2026, 3, 10), date(2026, 4, 30), date(2026, 5, 2), date(2026, 12, 31)]  # fmt: skip
    for since in days:
        for until in days:
            if since and until and until < since:
                continue
            start = datetime.combine(since, datetime.min.time()) if since else datetime.min
            end = datetime.combine(until, datetime.min.time()) + timedelta(days=1) if until else datetime.max
            expected = sorted(n for n, ats in moments.items() if any(start <= at < end for at in ats))
            got = _names(session, CustomerFilter(since=since, until=until, basis=ACTIVE))
            assert got == expected, (since, until)

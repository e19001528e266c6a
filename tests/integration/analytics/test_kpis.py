"""The KPI tiles against a hand-computed fixture: June 2026 against the 30 days before it (2 May - 31 May).

    customer  created      channel  first contact   outcome         deals                    payments
    A         06-03 09:00  官网     06-03 11:00 (2h)  won 06-13 09:00  opp 1000, contract 1200  500 on 06-20
    B         06-10 09:00  官网     06-11 09:00 (24h) lost 06-15       -                        -
    C         06-20 09:00  官网     -                 open             opp 3000 (06-21)         -
    D         05-10 09:00  官网     05-10 10:00 (1h)  won 05-30 09:00  opp 800, rejected 9999   300 on 05-31, 200 on 06-02
    E         05-15 09:00  官网     -                 lost 06-05       opp 400 (05-16)          -
    F         06-25 09:00  直播     -                 open             -                        -
    G         03-01 09:00  官网     -                 open             opp 50 (07-02, after)    -

June: new leads A B C F = 4; won A = 1; lost B E = 2, win rate 1/3; won amount 1200 (A's contract, not
its opportunity); days to win 10; speed to lead median(2, 24) = 13 h; open pipeline at the end of June
C 3000 (G's opportunity is created after); collected 500 + 200 = 700.
May: new leads D E = 2; won D = 1, lost 0, win rate 1; won amount 800; days to win 20; speed 1 h; open
at the end of May E 400 (lost later; D won already); collected 300.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM, Actor
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.kpis import KPI_KEYS, kpi_tiles, windows
from funnel.capture.leads import LeadInput, create_lead
from funnel.store.models import Contract, Customer, Opportunity, Payment, User

TODAY = date(2026, 7, 5)
JUNE = (date(2026, 6, 1), date(2026, 6, 30))


def _at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour)


@pytest.fixture
def fixture(session: Session, role_users: dict[str, User]) -> dict[str, int]:
    leads = {
        "A": dict(status="won", stage="closing", stage_dates={"won": _at(6, 13)}, created_at=_at(6, 3)),
        "B": dict(status="lost", lost_reason="价格太高", stage_dates={"lost": _at(6, 15)}, created_at=_at(6, 10)),
        "C": dict(created_at=_at(6, 20)),
        "D": dict(status="won", stage="closing", stage_dates={"won": _at(5, 30)}, created_at=_at(5, 10)),
        "E": dict(status="lost", lost_reason="无预算", stage_dates={"lost": _at(6, 5)}, created_at=_at(5, 15)),
        "F": dict(created_at=_at(6, 25), channel="直播"),
        "G": dict(created_at=_at(3, 1)),
    }  # fmt: skip
    ids: dict[str, int] = {}
    for name, fields in leads.items():
        fields = {"channel": "官网", **fields}
        owner = role_users["rep"].id if name == "A" else role_users["rep2"].id
        lead = LeadInput(name=name, email=f"{name}@x.cn", owner_id=owner, **fields)  # type: ignore[arg-type]
        ids[name] = create_lead(session, lead, actor=SYSTEM).id
    for name, contacted in {"A": _at(6, 3, 11), "B": _at(6, 11), "D": _at(5, 10, 10)}.items():
        session.get(Customer, ids[name]).first_contacted_at = contacted  # type: ignore[union-attr]
    for name, amount, created in [
        ("A", 1000, _at(6, 5)),
        ("C", 3000, _at(6, 21)),
        ("D", 800, _at(5, 12)),
        ("E", 400, _at(5, 16)),
        ("G", 50, _at(7, 2)),
    ]:
        session.add(Opportunity(customer_id=ids[name], amount=Decimal(amount), created_at=created))
    session.add(
        Contract(customer_id=ids["A"], amount=Decimal(1200), signed_on=date(2026, 6, 12), status="signed")
    )
    # A rejected contract is no signed business: D's won amount stays its opportunity's 800.
    session.add(Contract(customer_id=ids["D"], amount=Decimal(9999), status="rejected"))
    for name, amount, day in [
        ("A", 500, date(2026, 6, 20)),
        ("D", 300, date(2026, 5, 31)),
        ("D", 200, date(2026, 6, 2)),
    ]:
        session.add(Payment(customer_id=ids[name], amount=Decimal(amount), received_on=day))
    session.commit()
    return ids


EXPECTED = {
    # key: (June, May)
    "new_leads": (4, 2),
    "won": (1, 1),
    "win_rate": (1 / 3, 1.0),
    "won_amount": (1200, 800),
    "median_days_to_win": (10, 20),
    "speed_to_lead_hours": (13, 1),
    "open_pipeline": (3000, 400),
    "collected": (700, 300),
}


def _tiles(session: Session, actor: Actor = SYSTEM, filters: CustomerFilter | None = None) -> dict:
    since, until = JUNE
    return {
        k.key: k
        for k in kpi_tiles(session, actor=actor, since=since, until=until, today=TODAY, filters=filters)
    }


@pytest.mark.parametrize("key", KPI_KEYS)
def test_each_tile_and_its_previous_period(session, fixture, key):
    tile = _tiles(session)[key]
    now, before = EXPECTED[key]
    assert tile.value == pytest.approx(now)
    assert tile.previous == pytest.approx(before)
    assert tile.change == pytest.approx(now - before)


def test_the_previous_period_is_as_long_and_ends_where_the_period_begins():
    current, previous = windows(date(2026, 6, 1), date(2026, 6, 30), today=TODAY)
    assert (current.start, current.end) == (datetime(2026, 6, 1), datetime(2026, 7, 1))
    assert previous is not None and (previous.start, previous.end) == (
        datetime(2026, 5, 2),
        datetime(2026, 6, 1),
    )
    everything, none = windows(None, None, today=TODAY)
    assert (everything.start, everything.end, none) == (None, datetime(2026, 7, 6), None)


@pytest.mark.parametrize(
    ("filters", "key", "expected"),
    [
        (CustomerFilter(values={"channel": ("官网",)}), "new_leads", (3, 2)),
        (CustomerFilter(values={"channel": ("直播",)}), "won", (0, 0)),
        (CustomerFilter(values={"owner": ("rep",)}), "collected", (500, 0)),
        (CustomerFilter(values={"owner": ("rep2",)}), "open_pipeline", (3000, 400)),
        # The tiles count events in their own period: the filter's creation period does not narrow them.
        (CustomerFilter(since=date(2026, 6, 20), until=date(2026, 6, 30)), "new_leads", (4, 2)),
    ],
)
def test_the_attribute_filters_narrow_every_tile(session, fixture, filters, key, expected):
    tile = _tiles(session, filters=filters)[key]
    assert (tile.value, tile.previous) == pytest.approx(expected)


def test_a_rep_sees_tiles_of_their_own_customers(session, fixture, role_users):
    tiles = _tiles(session, actor=Actor.of(role_users["rep"]))
    assert (tiles["new_leads"].value, tiles["won_amount"].value, tiles["win_rate"].value) == (1, 1200, 1.0)
    assert tiles["new_leads"].previous == 0 and tiles["win_rate"].previous is None


def test_no_period_has_no_previous_and_empty_figures_are_none(session, role_users):
    tiles = {k.key: k for k in kpi_tiles(session, actor=SYSTEM, since=None, until=None, today=TODAY)}
    assert tiles["new_leads"].value == 0 and tiles["new_leads"].previous is None
    assert tiles["win_rate"].value is None and tiles["median_days_to_win"].value is None
    assert tiles["new_leads"].change is None


def test_the_pipeline_open_now_is_read_from_the_status_and_agrees_with_the_history(session, fixture):
    from funnel.analytics.kpis import open_pipeline_at

    # Open now: C (3000) and G (50); read from the status for a period ending now, from the stored
    # won / lost dates for one that ended earlier (after every event of the fixture).
    assert open_pipeline_at(session, CustomerFilter(), datetime(2099, 1, 1)) == 3050
    assert open_pipeline_at(session, CustomerFilter(), datetime(2026, 12, 1)) == 3050


@pytest.mark.parametrize(
    "hours",
    [[5.0], [3.0, 1.0, 2.0], [4.0, -2.0, 30.0, 1.5], [-1.0, -3.0], [7.25, 0.5, 0.5, 12.0, 3.0]],
)
def test_speed_to_lead_is_the_median_of_every_lead(session, role_users, hours):
    """The median (the middle value or two, averaged) equals statistics.median of the leads' hours, a
    contact logged before the lead (negative) counting as 0, for odd and even counts."""
    import statistics
    from datetime import timedelta

    created = _at(6, 10)
    for i, h in enumerate(hours):
        lead = LeadInput(name=f"L{i}", email=f"l{i}@x.cn", channel="官网", created_at=created)
        customer = session.get(Customer, create_lead(session, lead, actor=SYSTEM).id)
        customer.first_contacted_at = created + timedelta(hours=h)  # type: ignore[union-attr]
    session.commit()
    tiles = {k.key: k for k in kpi_tiles(session, actor=SYSTEM, since=JUNE[0], until=JUNE[1], today=TODAY)}
    expected = statistics.median(max(0.0, h) for h in hours)
    assert tiles["speed_to_lead_hours"].value == pytest.approx(expected, abs=1e-6)
    assert tiles["speed_to_lead_hours"].previous is None  # nobody was contacted in May


@pytest.mark.parametrize("days", [[10.0], [3.0, 1.5, 20.0, 4.0], [7.25, 0.5, 0.5, 12.0, 3.0]])
def test_won_tiles_are_counted_and_summed_in_sql_with_their_median(session, role_users, days):
    """The won count and amount are summed in SQL over the won index; the median days from creation to
    won equals statistics.median of the won customers' days, for odd and even counts; an attribute
    filter narrows all three."""
    import statistics
    from datetime import timedelta

    from funnel.store.models import Opportunity

    created = _at(6, 2)
    for i, d in enumerate(days):
        for j, channel in enumerate(("官网", "展会")):  # the 展会 twins are filtered out below
            lead = LeadInput(
                name=f"W{i}{channel}", email=f"w{i}-{j}@x.cn", channel=channel, created_at=created
            )
            customer = session.get(Customer, create_lead(session, lead, actor=SYSTEM).id)
            assert customer is not None
            session.add(Opportunity(customer_id=customer.id, name="deal", amount=100 * (i + 1)))
            session.flush()
            customer.status, customer.stage = "won", "won"
            customer.won_at = created + timedelta(days=d)
    session.commit()
    only_web = CustomerFilter(values={"channel": ("官网",)})
    tiles = {
        k.key: k
        for k in kpi_tiles(session, actor=SYSTEM, since=JUNE[0], until=JUNE[1], today=TODAY, filters=only_web)
    }
    assert tiles["won"].value == len(days)
    assert tiles["won_amount"].value == sum(100 * (i + 1) for i in range(len(days)))
    assert tiles["median_days_to_win"].value == pytest.approx(statistics.median(days), abs=1e-6)
    assert tiles["median_days_to_win"].previous is None  # nobody was won in May

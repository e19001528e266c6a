"""The dashboard's survey figures: answers, average rating and NPS (promoters 9-10 minus detractors 0-6, in
percent of the answers), over the reader's customers and the dashboard's CustomerFilter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from funnel.access.permissions import PUBLIC, SYSTEM, Actor
from funnel.analytics.filters import CustomerFilter
from funnel.closing import surveys
from funnel.closing.surveys import SurveySummary
from funnel.core.clock import utcnow
from funnel.store.models import User
from tests.integration.closing.helpers import customer

# (owner, channel, rating, recommend; None: issued, never answered)
ANSWERS = (
    ("rep", "web", 5, 10),  # promoter
    ("rep", "web", 4, 9),  # promoter
    ("rep", "referral", 3, 7),  # passive
    ("rep", "referral", 2, 6),  # detractor
    ("rep2", "web", 1, 0),  # detractor
    ("rep2", "web", None, None),  # not answered: not counted
)


@pytest.fixture
def answered(session: Session, role_users: dict[str, User]) -> None:
    for owner, channel, rating, recommend in ANSWERS:
        deal = customer(session, role_users[owner], channel=channel)
        deal.status, deal.won_at = "won", utcnow() - timedelta(days=4)
        session.flush()
        token = surveys.issue_survey(session, actor=SYSTEM, customer_id=deal.id)
        if rating is not None:
            assert (
                surveys.answer_survey(session, actor=PUBLIC, token=token, rating=rating, recommend=recommend)
                == "recorded"
            )


@pytest.mark.usefixtures("answered")
@pytest.mark.parametrize(
    ("reader", "customer_filter", "expected"),
    [
        # 5 answers: 2 promoters, 1 passive, 2 detractors -> NPS 0; ratings 15 / 5 = 3.0
        ("manager", None, (5, 3.0, 0.0, 2, 1, 2)),
        # web: 5/10, 4/9, 1/0 -> 2 promoters, 1 detractor of 3 -> +33.3
        ("manager", CustomerFilter(values={"channel": ("web",)}), (3, 10 / 3, 100 / 3, 2, 0, 1)),
        # referral: 3/7 passive, 2/6 detractor -> -50
        ("manager", CustomerFilter(values={"channel": ("referral",)}), (2, 2.5, -50.0, 0, 1, 1)),
        # by owner (the filter names the user's column): rep2's one answer, a detractor
        ("manager", CustomerFilter(values={"owner": ("rep2",)}), (1, 1.0, -100.0, 0, 0, 1)),
        # the reader's scope still applies under a filter: rep sees only their own four
        ("rep", CustomerFilter(values={"channel": ("web",)}), (2, 4.5, 100.0, 2, 0, 0)),
        ("rep", None, (4, 3.5, 25.0, 2, 1, 1)),
    ],
)
def test_summary_counts_average_and_nps(
    session: Session,
    role_users: dict[str, User],
    reader: str,
    customer_filter: CustomerFilter | None,
    expected: tuple[int, float, float, int, int, int],
) -> None:
    got = surveys.survey_summary(session, actor=Actor.of(role_users[reader]), customer_filter=customer_filter)

    assert got.count == got.answers == expected[0]
    assert got.average_rating == pytest.approx(expected[1])
    assert got.nps == pytest.approx(expected[2])
    assert (got.promoters, got.passives, got.detractors) == expected[3:]


@pytest.mark.usefixtures("answered")
def test_no_answers_in_the_filter_gives_no_figures_rather_than_zeros(
    session: Session, role_users: dict[str, User]
) -> None:
    got = surveys.survey_summary(
        session,
        actor=Actor.of(role_users["manager"]),
        customer_filter=CustomerFilter(values={"channel": ("fair",)}),
    )

    assert got == SurveySummary(0, None, None)

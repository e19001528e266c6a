"""Satisfaction surveys: issued after a win, answered once through the public page, expired links,
and the results (average, NPS) for the dashboard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from funnel.access.permissions import PUBLIC, SYSTEM, Actor
from funnel.closing import surveys
from funnel.core.clock import utcnow
from funnel.core.errors import ValidationError
from funnel.integrations.survey_routes import ROUTES
from funnel.store.models import Customer, Notification, Survey, User
from tests.integration.closing.helpers import customer


def won(session: Session, owner: User) -> Customer:
    deal = customer(session, owner)
    deal.status, deal.won_at = "won", utcnow() - timedelta(days=4)
    session.flush()
    return deal


def test_due_issue_and_answer_once(session: Session, role_users: dict[str, User]) -> None:
    deal = won(session, role_users["rep"])
    assert surveys.survey_due(session, now=utcnow(), after_days=3) == [deal.id]
    assert surveys.survey_due(session, now=utcnow(), after_days=5) == []
    token = surveys.issue_survey(session, actor=SYSTEM, customer_id=deal.id)
    stored = session.scalars(select(Survey)).one()
    assert stored.token != token and stored.token == surveys.token_hash(token) and len(token) >= 43
    note = session.scalars(select(Notification).where(Notification.kind == "survey_issued")).one()
    assert note.user_id == role_users["rep"].id and token in note.message
    assert surveys.survey_due(session, now=utcnow(), after_days=3) == []
    with pytest.raises(ValidationError) as refused:
        surveys.answer_survey(session, actor=PUBLIC, token=token, rating="6", recommend="-1")
    assert set(refused.value.by_field()) == {"rating", "recommend"}
    assert surveys.answer_survey(session, actor=PUBLIC, token=token, rating="5", recommend="10") == "recorded"
    assert surveys.answer_survey(session, actor=PUBLIC, token=token, rating="1", recommend="0") == "answered"
    session.refresh(stored)
    assert (stored.rating, stored.recommend) == (5, 10)
    assert surveys.survey_state(session, "not-a-token") == "unknown"


def test_an_expired_link_takes_no_answer(session: Session, role_users: dict[str, User]) -> None:
    deal = won(session, role_users["rep"])
    token = surveys.issue_survey(
        session, actor=SYSTEM, customer_id=deal.id, now=utcnow() - timedelta(days=15)
    )
    assert surveys.answer_survey(session, actor=PUBLIC, token=token, rating="4", recommend="8") == "expired"
    assert session.scalars(select(Survey.answered_at)).one() is None


def test_summary_average_and_nps(session: Session, role_users: dict[str, User]) -> None:
    for rating, recommend in ((5, 10), (4, 9), (3, 7), (1, 2)):
        deal = won(session, role_users["rep"])
        token = surveys.issue_survey(session, actor=SYSTEM, customer_id=deal.id)
        surveys.answer_survey(session, actor=PUBLIC, token=token, rating=rating, recommend=recommend)
    summary = surveys.survey_summary(session, actor=Actor.of(role_users["manager"]))
    assert (summary.answers, summary.average_rating, summary.nps) == (4, 3.25, 25.0)
    assert surveys.survey_summary(session, actor=Actor.of(role_users["rep2"])).answers == 0
    one = surveys.surveys_table(session, actor=Actor.of(role_users["rep"]), customer_id=deal.id)
    assert one[["rating", "recommend"]].values.tolist() == [[1, 2]]


def test_the_public_page_answers_once_and_escapes(
    engine: Engine, session: Session, role_users: dict[str, User]
) -> None:
    deal = won(session, role_users["rep"])
    token = surveys.issue_survey(session, actor=SYSTEM, customer_id=deal.id)
    old = surveys.issue_survey(session, actor=SYSTEM, customer_id=deal.id, now=utcnow() - timedelta(days=30))
    session.commit()
    client = TestClient(Starlette(routes=ROUTES))
    page = client.get(f"/survey/{token}?lang=zh")
    assert page.status_code == 200 and "您对我们的服务满意吗" in page.text and 'name="rating"' in page.text
    bad = client.post(
        f"/survey/{token}", data={"rating": "9", "recommend": "3", "comment": "<script>x</script>"}
    )
    assert bad.status_code == 400 and "&lt;script&gt;" in bad.text and "<script>x" not in bad.text
    foreign = client.post(
        f"/survey/{token}", data={"rating": "5", "recommend": "9"}, headers={"origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    done = client.post(f"/survey/{token}", data={"rating": "5", "recommend": "9", "comment": "好"})
    assert done.status_code == 200 and "Thank you" in done.text
    again = client.post(f"/survey/{token}", data={"rating": "1", "recommend": "0"})
    assert again.status_code == 409 and client.get(f"/survey/{token}").status_code == 409
    assert client.get(f"/survey/{old}").status_code == 410
    assert client.get("/survey/guess").status_code == 404
    session.expire_all()
    assert session.scalars(select(Survey.comment).where(Survey.answered_at.is_not(None))).all() == ["好"]

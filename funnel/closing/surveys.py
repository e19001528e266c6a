"""Satisfaction surveys after a win: a secret, expiring link answered once, and the results.

Only the sha256 of a link's token is stored (`survey.token`), so the table does not hold working links;
the token itself goes to the owner (to forward) and, through the `SurveyIssued` event, to the group bot.
Answering is one conditional UPDATE (not answered, not expired), so a link used twice at once still
counts once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import pandas as pd
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, customer_scope, require
from funnel.closing.common import clean_str, customer_for
from funnel.core import events
from funnel.core.clock import utcnow
from funnel.core.errors import FORM, FieldError, ValidationError
from funnel.core.settings import get_settings
from funnel.inbox.notify import notify
from funnel.store.models import Customer, Survey, User
from funnel.timers.rules import TeamManagers

SURVEY_PATH = "/survey/"
OPEN, ANSWERED, EXPIRED, UNKNOWN = "open", "answered", "expired", "unknown"
RECORDED = "recorded"  # answer_survey: this answer was stored


@dataclass(frozen=True)
class SurveyIssued(events.DomainEvent):
    """A survey link was issued; `path` (with its secret token) is for the group bot to post."""

    customer_id: int
    survey_id: int
    path: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_survey(session: Session, *, actor: Actor, customer_id: int, now: datetime | None = None) -> str:
    """Create a survey for a won customer and return its secret token (shown once, never stored)."""
    customer = customer_for(session, actor, customer_id, "customer.edit")
    if customer.status != "won":
        raise ValidationError(
            [FieldError(FORM, "closing.error.survey_not_won", {"customer_no": customer.customer_no})]
        )
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    survey = Survey(
        customer_id=customer.id,
        token=token_hash(token),
        sent_at=now,
        expires_at=now + timedelta(days=get_settings().survey_valid_days),
    )
    session.add(survey)
    session.flush()
    path = SURVEY_PATH + token
    # The whole address, for the owner to forward (an unowned customer's team managers get it instead);
    # notify() also queues it for the recipient's or their team's group bot.
    link = get_settings().public_base_url.rstrip("/") + path
    for user_id in TeamManagers(session).owner_or_managers(customer.owner_id, customer.team):
        notify(
            session,
            user_id=user_id,
            kind="survey_issued",
            params={"customer": customer.name, "customer_no": customer.customer_no, "path": link},
            customer_id=customer.id,
        )
    events.record(session, SurveyIssued(customer.id, survey.id, path))
    return token


def survey_due(
    session: Session, *, now: datetime, after_days: int, since: datetime | None = None
) -> list[int]:
    """Won customers whose win is `after_days` old and who have no survey yet (for the timers engine).

    `since` bounds the win times looked at (the timers' look-back: an old win is not surveyed late).
    """
    has_survey = select(Survey.id).where(Survey.customer_id == Customer.id).exists()
    stmt = (
        select(Customer.id)
        .where(Customer.status == "won", Customer.won_at <= now - timedelta(days=after_days), ~has_survey)
        .order_by(Customer.won_at, Customer.id)
    )
    if since is not None:
        stmt = stmt.where(Customer.won_at >= since)
    return list(session.scalars(stmt))


def survey_state(session: Session, token: str, *, now: datetime | None = None) -> str:
    """open, answered, expired or unknown: what the public page shows for a link."""
    survey = session.scalar(select(Survey).where(Survey.token == token_hash(token)))
    if survey is None:
        return UNKNOWN
    if survey.answered_at is not None:
        return ANSWERED
    if survey.expires_at is not None and survey.expires_at <= (now or utcnow()):
        return EXPIRED
    return OPEN


def _score(field: str, raw: object, low: int, high: int, errors: list[FieldError]) -> int | None:
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        value = low - 1
    if not low <= value <= high:
        errors.append(FieldError(field, "closing.error.score_range", {"low": str(low), "high": str(high)}))
        return None
    return value


def answer_survey(
    session: Session,
    *,
    actor: Actor,
    token: str,
    rating: object,
    recommend: object,
    comment: object = None,
    now: datetime | None = None,
) -> str:
    """Store a prospect's answer once (survey.answer); returns RECORDED, or the state that refused it."""
    require(actor, "survey.answer")
    errors: list[FieldError] = []
    stars = _score("rating", rating, 1, 5, errors)
    score = _score("recommend", recommend, 0, 10, errors)
    text = clean_str("comment", comment, errors, max_length=2000)
    state = survey_state(session, token, now=now)
    if state != OPEN:
        return state
    if errors:
        raise ValidationError(errors)
    now = now or utcnow()
    result = session.execute(
        update(Survey)
        .where(
            Survey.token == token_hash(token),
            Survey.answered_at.is_(None),
            (Survey.expires_at.is_(None)) | (Survey.expires_at > now),
        )
        .values(answered_at=now, rating=stars, recommend=score, comment=text)
    )
    return RECORDED if getattr(result, "rowcount", 0) == 1 else survey_state(session, token, now=now)


@dataclass(frozen=True)
class SurveySummary:
    answers: int
    average_rating: float | None  # 1-5
    nps: float | None  # % promoters (9-10) - % detractors (0-6), -100..100
    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    @property
    def count(self) -> int:
        return self.answers

    @staticmethod
    def of(answers: int, rating_sum: float, promoters: int, detractors: int) -> SurveySummary:
        if not answers:
            return SurveySummary(0, None, None)
        return SurveySummary(
            answers,
            rating_sum / answers,
            100.0 * (promoters - detractors) / answers,
            promoters,
            answers - promoters - detractors,
            detractors,
        )


class CustomerConditions(Protocol):
    """Which customers to count: analytics' CustomerFilter fits (closing sits below analytics, so it
    takes the filter by its shape rather than importing it)."""

    def conditions(self) -> list[ColumnElement[bool]]: ...


def survey_summary(
    session: Session,
    *,
    actor: Actor,
    customer_filter: CustomerConditions | None = None,
    customer_id: int | None = None,
) -> SurveySummary:
    """Answered surveys of the customers `actor` may read (narrowed by `customer_filter`, e.g. the
    dashboard's CustomerFilter, or to one customer): count, average rating and NPS, summed in SQL."""
    require(actor, "customer.read")
    as_int = Survey.rating.type
    stmt = (
        select(
            func.count(),
            func.coalesce(func.sum(Survey.rating), 0),
            func.coalesce(func.sum((Survey.recommend >= 9).cast(as_int)), 0),
            func.coalesce(func.sum((Survey.recommend <= 6).cast(as_int)), 0),
        )
        .select_from(Survey)
        .join(Customer, Customer.id == Survey.customer_id)
        .where(Survey.answered_at.is_not(None), *customer_scope(session, actor).conditions())
    )
    if customer_filter is not None:
        conditions = customer_filter.conditions()
        # A filter by owner names the user's columns (CustomerFilter: User.username).
        stmt = stmt.outerjoin(User, User.id == Customer.owner_id).where(*conditions)
    if customer_id is not None:
        stmt = stmt.where(Survey.customer_id == customer_id)
    answers, rating_sum, promoters, detractors = session.execute(stmt).one()
    return SurveySummary.of(int(answers), float(rating_sum), int(promoters), int(detractors))


def surveys_table(session: Session, *, actor: Actor, customer_id: int) -> pd.DataFrame:
    """A customer's surveys: sent, expires, answered, rating, recommendation and comment (for its page)."""
    customer_for(session, actor, customer_id, "customer.read")
    columns = ["id", "sent_at", "expires_at", "answered_at", "rating", "recommend", "comment"]
    stmt = (
        select(*(getattr(Survey, name) for name in columns))
        .where(Survey.customer_id == customer_id)
        .order_by(Survey.sent_at.desc(), Survey.id.desc())
    )
    return pd.DataFrame(session.execute(stmt).all(), columns=columns)

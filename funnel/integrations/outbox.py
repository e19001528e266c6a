"""The group-bot outbox: deliver due messages with retries and exponential back-off; manage endpoints.

`funnel.inbox.notify` queues a message per active endpoint of the notified user or their team in the
notification's transaction. `deliver_due` sends what is due: it first claims a batch in a short
transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED`, SQLite: under the write lock) by moving each row's
`next_attempt_at` a lease ahead, so a second sender running at the same time skips them; it then posts
outside any transaction and records each outcome. A failure waits 30 s, 60 s, 120 s, ... (at most an
hour) before the next attempt; after MAX_ATTEMPTS the message is `failed`, kept, and can be retried from
the settings page. Nothing is ever dropped for a failing endpoint.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, case, delete, exists, func, select, update
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, require
from funnel.core.clock import utcnow
from funnel.core.db import session_scope, take_write_lock
from funnel.core.errors import FieldError, ValidationError
from funnel.core.i18n import LANGUAGES
from funnel.inbox.notify import forget_endpoints
from funnel.integrations.webhooks import KINDS, SIGNED, accepted, build_request
from funnel.store.models import Outbox, User, WebhookEndpoint

log = logging.getLogger(__name__)

PENDING, SENT, FAILED = "pending", "sent", "failed"
MAX_ATTEMPTS = 6
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
# How long a claimed message is left to its sender before another sender may take it (a crashed sender).
LEASE = timedelta(minutes=2)
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
ERROR_MAX = 500


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 30 s doubled each time, at most an hour."""
    return min(FIRST_DELAY * (2 ** max(attempts - 1, 0)), MAX_DELAY)


@dataclass(frozen=True)
class Claimed:
    id: int
    attempts: int
    endpoint_id: int
    kind: str
    url: str
    secret: str | None
    text: str
    link: str | None


@dataclass(frozen=True)
class DeliveryReport:
    sent: int
    failed: int
    pending: int

    def as_json(self) -> dict[str, int]:
        return {"sent": self.sent, "failed": self.failed, "pending": self.pending}


def claim_due(engine: Engine, *, now: datetime, limit: int = 100) -> list[Claimed]:
    """Take up to `limit` due messages of active endpoints for this sender (one short transaction)."""
    with session_scope(engine) as session:
        due = Outbox.status == PENDING, Outbox.next_attempt_at <= now
        # Nothing due, the usual case: no write lock, so an idle sender never queues behind (or holds up)
        # the users' saves on SQLite's one writer.
        if session.scalar(select(exists().where(*due))) is not True:
            return []
        session.rollback()  # end the read first: a WAL snapshot older than the lock could not write
        take_write_lock(session)
        query = (
            select(Outbox, WebhookEndpoint)
            .join(WebhookEndpoint, WebhookEndpoint.id == Outbox.endpoint_id)
            .where(*due, WebhookEndpoint.active)
            .order_by(Outbox.next_attempt_at, Outbox.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=Outbox)
        claimed = []
        for message, endpoint in session.execute(query).all():
            message.attempts += 1
            message.next_attempt_at = now + LEASE
            claimed.append(
                Claimed(
                    message.id,
                    message.attempts,
                    endpoint.id,
                    endpoint.kind,
                    endpoint.url,
                    endpoint.secret,
                    message.payload,
                    message.link,
                )
            )
    return claimed


def post(client: httpx.Client, *, kind: str, url: str, secret: str | None, text: str, link: str | None,
         now: datetime) -> str | None:  # fmt: skip
    """Send one message; None when the bot accepted it, else the reason (never raises for the network)."""
    request = build_request(kind=kind, url=url, secret=secret, text=text, link=link, now=now)
    try:
        response = client.post(request.url, json=request.body, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:ERROR_MAX]
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    error = accepted(kind, response.status_code, body)
    return error[:ERROR_MAX] if error else None


def _record(engine: Engine, message: Claimed, error: str | None, now: datetime) -> str:
    with session_scope(engine) as session:
        take_write_lock(session)
        row = session.get(Outbox, message.id)
        endpoint = session.get(WebhookEndpoint, message.endpoint_id)
        if row is None:
            return PENDING  # its endpoint was deleted meanwhile
        if error is None:
            row.status, row.sent_at, row.last_error = SENT, now, None
            if endpoint is not None:
                endpoint.last_ok_at = now
            return SENT
        row.last_error = error
        if row.attempts >= MAX_ATTEMPTS:
            row.status = FAILED
        else:
            row.next_attempt_at = now + backoff(row.attempts)
        if endpoint is not None:
            endpoint.last_error, endpoint.last_error_at = error, now
        return str(row.status)


def deliver_due(
    engine: Engine, now: datetime | None = None, client: httpx.Client | None = None, *, limit: int = 100
) -> DeliveryReport:
    """Send the messages that are due; how many were sent, failed for good, and are still waiting."""
    now = now or utcnow()
    claimed = claim_due(engine, now=now, limit=limit)
    sent = failed = 0
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT)
    try:
        for message in claimed:
            error = post(http, kind=message.kind, url=message.url, secret=message.secret, text=message.text,
                         link=message.link, now=now)  # fmt: skip
            if error is not None:
                log.warning("outbox message %s to endpoint %s: %s", message.id, message.endpoint_id, error)
            outcome = _record(engine, message, error, now)
            sent += outcome == SENT
            failed += outcome == FAILED
    finally:
        if own:
            http.close()
    with session_scope(engine) as session:
        pending = session.scalar(select(func.count()).where(Outbox.status == PENDING)) or 0
    return DeliveryReport(sent=sent, failed=failed, pending=int(pending))


class Sender(threading.Thread):
    """The running app's background sender: deliver_due every `interval` seconds until stopped."""

    def __init__(self, engine: Engine, interval: float):
        super().__init__(name="loudou-outbox", daemon=True)
        self.engine, self.interval = engine, interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                deliver_due(self.engine)
            except Exception:  # a database or network outage: try again next round
                log.exception("the outbox sender failed; retrying in %s s", self.interval)
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()


# ------------------------------------------------------------------------------------- endpoints


@dataclass(frozen=True)
class EndpointInput:
    kind: str
    url: str
    secret: str | None = None
    username: str | None = None
    team: str | None = None
    lang: str = "zh"


@dataclass(frozen=True)
class EndpointStatus:
    id: int
    kind: str
    owner: str  # a username, or "team <name>"
    user_id: int | None
    team: str | None
    url: str
    active: bool
    last_ok_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    pending: int
    failed: int


def add_endpoint(session: Session, *, actor: Actor, endpoint: EndpointInput) -> WebhookEndpoint:
    """A new group bot for a user or a team (managers and admins); every field checked."""
    require(actor, "routing.manage")
    errors: list[FieldError] = []
    kind = (endpoint.kind or "").strip().lower()
    if kind not in KINDS:
        errors.append(FieldError("kind", "routing.error.hook_kind", {"value": endpoint.kind}))
    url = (endpoint.url or "").strip()
    if not url.startswith(("https://", "http://")) or len(url) > 1000:
        errors.append(FieldError("url", "routing.error.hook_url"))
    secret = (endpoint.secret or "").strip() or None
    if kind in SIGNED and not secret:
        errors.append(FieldError("secret", "routing.error.hook_secret", {"kind": kind}))
    username, team = (endpoint.username or "").strip(), (endpoint.team or "").strip()
    user_id = None
    if bool(username) == bool(team):
        errors.append(FieldError("user", "routing.error.hook_owner"))
    elif username:
        user = session.scalar(select(User).where(func.lower(User.username) == username.casefold()))
        if user is None:
            errors.append(FieldError("user", "routing.error.hook_user", {"value": username}))
        else:
            user_id = user.id
    if errors:
        raise ValidationError(errors)
    row = WebhookEndpoint(
        kind=kind, url=url, secret=(secret or "")[:200] or None, user_id=user_id, team=team[:64] or None,
        lang=endpoint.lang if endpoint.lang in LANGUAGES else "zh", active=True, created_at=utcnow(),
    )  # fmt: skip
    session.add(row)
    session.flush()
    forget_endpoints(session)
    return row


def _endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    row = session.get(WebhookEndpoint, endpoint_id)
    if row is None:
        raise ValidationError([FieldError("endpoint", "routing.error.hook_missing")])
    return row


def set_endpoint_active(session: Session, *, actor: Actor, endpoint_id: int, active: bool) -> None:
    require(actor, "routing.manage")
    _endpoint(session, endpoint_id).active = active
    forget_endpoints(session)


def delete_endpoint(session: Session, *, actor: Actor, endpoint_id: int) -> None:
    """Remove a group bot and its queued messages."""
    require(actor, "routing.manage")
    _endpoint(session, endpoint_id)
    session.execute(delete(Outbox).where(Outbox.endpoint_id == endpoint_id))
    session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))
    forget_endpoints(session)


def retry_failed(session: Session, *, actor: Actor, endpoint_id: int, now: datetime | None = None) -> int:
    """Put an endpoint's failed messages back in the queue, due now, with a fresh count of attempts."""
    require(actor, "routing.manage")
    _endpoint(session, endpoint_id)
    result = session.execute(
        update(Outbox)
        .where(Outbox.endpoint_id == endpoint_id, Outbox.status == FAILED)
        .values(status=PENDING, attempts=0, next_attempt_at=now or utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def endpoint_statuses(session: Session, *, actor: Actor) -> list[EndpointStatus]:
    """Every group bot with its last success, last error and its waiting and failed messages."""
    require(actor, "routing.manage")
    counts = {
        endpoint_id: (int(pending or 0), int(failed or 0))
        for endpoint_id, pending, failed in session.execute(
            select(
                Outbox.endpoint_id,
                func.sum(case((Outbox.status == PENDING, 1), else_=0)),
                func.sum(case((Outbox.status == FAILED, 1), else_=0)),
            ).group_by(Outbox.endpoint_id)
        )
    }
    names = dict(session.execute(select(User.id, User.username)).all())
    rows = session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id))
    return [
        EndpointStatus(
            id=row.id,
            kind=row.kind,
            owner=str(names.get(row.user_id, "")) if row.user_id is not None else f"team {row.team}",
            user_id=row.user_id,
            team=row.team,
            url=row.url,
            active=row.active,
            last_ok_at=row.last_ok_at,
            last_error=row.last_error,
            last_error_at=row.last_error_at,
            pending=counts.get(row.id, (0, 0))[0],
            failed=counts.get(row.id, (0, 0))[1],
        )
        for row in rows
    ]


def send_test(
    engine: Engine, *, actor: Actor, endpoint_id: int, text: str, client: httpx.Client | None = None
) -> str | None:
    """Post a test message to one bot now (not through the queue); None when accepted, else why not."""
    require(actor, "routing.manage")
    with session_scope(engine) as session:
        endpoint = _endpoint(session, endpoint_id)
        kind, url, secret = endpoint.kind, endpoint.url, endpoint.secret
    now = utcnow()
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT)
    try:
        error = post(http, kind=kind, url=url, secret=secret, text=text, link=None, now=now)
    finally:
        if own:
            http.close()
    with session_scope(engine) as session:
        endpoint = _endpoint(session, endpoint_id)
        if error is None:
            endpoint.last_ok_at = now
        else:
            endpoint.last_error, endpoint.last_error_at = error, now
    return error


def failing_endpoints(statuses: Sequence[EndpointStatus]) -> list[EndpointStatus]:
    """Endpoints whose last attempt failed (an error newer than the last success) or that hold failures."""
    return [
        s
        for s in statuses
        if s.failed
        or (s.last_error_at is not None and (s.last_ok_at is None or s.last_error_at > s.last_ok_at))
    ]

"""Put a message in a user's inbox, count and list the unread ones, mark them read.

A notification stores its kind and parameters, not a sentence: it is rendered in the reader's language
when shown (`notify.<kind>` in the message catalogues). Every caller (routing, reassignment, the
timers, the closing flow) goes through `notify`, so a later sink (a group bot's outbox) hooks in here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from funnel.core.clock import utcnow
from funnel.core.i18n import LANGUAGES, t
from funnel.core.settings import get_settings
from funnel.store.models import Customer, Notification, Outbox, User, WebhookEndpoint

MESSAGE_MAX = 500  # the column's length


def notify(
    session: Session,
    *,
    user_id: int,
    kind: str,
    params: Mapping[str, object] | None = None,
    customer_id: int | None = None,
) -> Notification:
    """Add one unread notification for `user_id`; it is committed with the caller's unit of work.

    `message` keeps the English rendering (for the command line, logs and old readers); the screen
    renders `kind` and `params` in the reader's language.
    """
    clean = {key: _plain(value) for key, value in (params or {}).items()}
    row = Notification(
        user_id=user_id,
        customer_id=customer_id,
        kind=kind,
        params=clean,
        message=t(f"notify.{kind}", "en", **_localized(clean, "en"))[:MESSAGE_MAX],
        created_at=utcnow(),
    )
    session.add(row)
    # No flush per notification: a bulk routing notifies thousands of times and the rows go out in one
    # INSERT at the caller's flush; queue_for_bots flushes only when a bot needs the row's id.
    queue_for_bots(session, row)
    return row


_ENDPOINTS = "loudou_active_endpoints"


def customer_link(customer_id: int) -> str:
    """The customer page's address as someone outside the app reaches it (CRM_PUBLIC_BASE_URL)."""
    return f"{get_settings().public_base_url.rstrip('/')}/customer?id={customer_id}"


def forget_endpoints(session: Session) -> None:
    """Drop the session's cached list of active endpoints (after adding, changing or removing one)."""
    session.info.pop(_ENDPOINTS, None)


def _active_endpoints(session: Session) -> list[tuple[int, int | None, str | None, str]]:
    # Loaded once per session: a bulk routing notifies thousands of times, the endpoints are a handful.
    if _ENDPOINTS not in session.info:
        query = select(
            WebhookEndpoint.id, WebhookEndpoint.user_id, WebhookEndpoint.team, WebhookEndpoint.lang
        )
        session.info[_ENDPOINTS] = [tuple(r) for r in session.execute(query.where(WebhookEndpoint.active))]
    endpoints: list[tuple[int, int | None, str | None, str]] = session.info[_ENDPOINTS]
    return endpoints


def queue_for_bots(session: Session, row: Notification) -> list[Outbox]:
    """An outbox message for each active group bot of the notified user or of their team.

    Written in the notification's transaction, so a message is queued exactly when the change that
    caused it is committed; `python -m funnel notify` sends it later (funnel.integrations.outbox).
    """
    endpoints = _active_endpoints(session)
    if not endpoints:
        return []
    if row.id is None:
        session.flush()  # the outbox message names the notification
    user = session.get(User, row.user_id)
    team = user.team if user is not None else None
    name = (user.display_name or user.username) if user is not None else ""
    link = customer_link(row.customer_id) if row.customer_id is not None else None
    queued = []
    for endpoint_id, user_id, endpoint_team, lang in endpoints:
        if user_id != row.user_id and (team is None or endpoint_team != team):
            continue
        lang = lang if lang in LANGUAGES else "en"
        text = t("notify.bot", lang, name=name, text=render(row, lang))
        message = Outbox(
            endpoint_id=endpoint_id,
            notification_id=row.id,
            payload=text,
            link=link,
            lang=lang,
            status="pending",
            attempts=0,
            next_attempt_at=row.created_at,
            created_at=row.created_at,
        )
        session.add(message)
        queued.append(message)
    return queued


def _localized(params: Mapping[str, object], lang: str) -> dict[str, object]:
    """The parameters for `lang`: one given per language (`reason_en`, `reason_zh`) is read as `reason`."""
    suffix = f"_{lang}"
    return {**params, **{name.removesuffix(suffix): v for name, v in params.items() if name.endswith(suffix)}}


def _plain(value: object) -> str | int | float | None:
    """JSON-storable parameter values: numbers stay numbers, everything else becomes text."""
    if value is None or isinstance(value, (int, float, str)):
        return value
    return str(value)


@dataclass(frozen=True)
class InboxItem:
    id: int
    kind: str
    text: str
    created_at: datetime
    read_at: datetime | None
    customer_id: int | None
    customer_no: str | None


def unread_count(session: Session, user_id: int) -> int:
    return int(
        session.scalar(
            select(func.count()).where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )


def inbox(
    session: Session, user_id: int, *, lang: str, unread_only: bool = False, limit: int = 200
) -> list[InboxItem]:
    """The newest notifications of `user_id`, rendered in `lang`."""
    query = (
        select(Notification, Customer.customer_no)
        .outerjoin(Customer, Customer.id == Notification.customer_id)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return [
        InboxItem(
            id=row.id,
            kind=row.kind,
            text=render(row, lang),
            created_at=row.created_at,
            read_at=row.read_at,
            customer_id=row.customer_id,
            customer_no=customer_no,
        )
        for row, customer_no in session.execute(query)
    ]


def render(row: Notification, lang: str) -> str:
    """The notification in `lang`; a kind with no message in the catalogue shows its stored text."""
    key = f"notify.{row.kind}"
    try:
        text = t(key, lang, **_localized(row.params or {}, lang))
    except (KeyError, IndexError, ValueError):
        return row.message
    return row.message if text == key else text


def mark_read(session: Session, user_id: int, ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications `ids` (all unread ones when None) read; returns how many changed."""
    query = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if ids is not None:
        wanted = list(ids)
        if not wanted:
            return 0
        query = query.where(Notification.id.in_(wanted))
    result = session.execute(query.values(read_at=utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)

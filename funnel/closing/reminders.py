"""Closing's timer rules and red flags: proposal feedback due, idle quotes, overdue instalments, the survey.

The one timer engine (funnel/timers) sits below closing and cannot import it, so these rules join it
through `install()`, which funnel.integrations.handlers.install_handlers calls once per process (the
app, the command line and the tests), like the event handlers. Each rule reuses the closing query that
owns its condition (files.feedback_due, quotes.idle_quotes, payments.overdue_instalments,
surveys.survey_due), bounded by `timer_lookback_days`, and claims its subjects in timer_fire, so running
the timers twice (or at once) tells each subject once. The same queries, for one customer, raise the
customer guide's red flags. Every number is a setting: CRM_PROPOSAL_FEEDBACK_DAYS (when sending sets the
due day), CRM_QUOTE_IDLE_DAYS, CRM_SURVEY_AFTER_WIN_DAYS, CRM_TIMER_LOOKBACK_DAYS.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM
from funnel.closing.files import feedback_due
from funnel.closing.payments import overdue_instalments
from funnel.closing.quotes import idle_quotes
from funnel.closing.surveys import issue_survey, survey_due
from funnel.core.settings import Settings, get_settings
from funnel.customers.guidance import register_red_flag
from funnel.inbox.notify import notify
from funnel.store.models import Contract, Document, User
from funnel.timers.rules import Rule, TeamManagers, claim, customers_of, register_rules

PROPOSAL_FEEDBACK_DUE = "proposal_feedback_due"
QUOTE_IDLE = "quote_idle"
INSTALMENT_OVERDUE = "instalment_overdue"
SURVEY_ISSUED = "survey_issued"
# Who keeps the receipts besides the owner: told of an overdue instalment (they record payments).
FINANCE_ROLES = ("delivery",)


def team_day(now: datetime, settings: Settings) -> date:
    """The team's calendar day that holds `now` (naive UTC)."""
    return now.replace(tzinfo=UTC).astimezone(ZoneInfo(settings.timezone)).date()


def _shown(value: datetime, settings: Settings) -> str:
    return f"{value.replace(tzinfo=UTC).astimezone(ZoneInfo(settings.timezone)):%Y-%m-%d %H:%M}"


def _tell(
    session: Session,
    kind: str,
    customer_params: dict[int, list[dict[str, object]]],
    *,
    extra_users: Sequence[int] = (),
) -> None:
    """One message per (customer, item) to its owner (an unowned one's team managers) and `extra_users`."""
    managers = TeamManagers(session)
    for cid, number, name, owner_id, team in customers_of(session, sorted(customer_params)):
        recipients = list(dict.fromkeys([*managers.owner_or_managers(owner_id, team), *extra_users]))
        for params in customer_params[cid]:
            for user_id in recipients:
                notify(
                    session,
                    user_id=user_id,
                    kind=kind,
                    params={"customer_no": number, "name": name, **params},
                    customer_id=cid,
                )


def fire_proposal_feedback_due(session: Session, now: datetime, settings: Settings) -> int:
    """Sent proposals whose feedback day has come with no activity since sending: the owner is told.

    One per proposal and due time (a proposal sent again gets a new due time and fires again).
    """
    due = feedback_due(session, now=now, since=now - timedelta(days=settings.timer_lookback_days))
    by_due: dict[str, list[int]] = defaultdict(list)
    for item in due:
        by_due[item.due_at.isoformat(timespec="seconds")].append(item.document_id)
    claimed: set[int] = set()
    for period, ids in sorted(by_due.items()):
        claimed.update(claim(session, PROPOSAL_FEEDBACK_DUE, ids, period=period))
    if not claimed:
        return 0
    names = dict(
        session.execute(select(Document.id, Document.filename).where(Document.id.in_(claimed))).all()
    )
    told: dict[int, list[dict[str, object]]] = defaultdict(list)
    for item in due:
        if item.document_id in claimed:
            told[item.customer_id].append(
                {"file": names.get(item.document_id, ""), "due": _shown(item.due_at, settings)}
            )
    _tell(session, PROPOSAL_FEEDBACK_DUE, told)
    return len(claimed)


def fire_quote_idle(session: Session, now: datetime, settings: Settings) -> int:
    """Open customers whose latest quote has been idle over CRM_QUOTE_IDLE_DAYS: the owner is told (临门提醒).

    One per quote: a new quote that goes idle again is reminded again.
    """
    idle = idle_quotes(
        session,
        now=now,
        idle_days=settings.quote_idle_days,
        since=now - timedelta(days=settings.timer_lookback_days),
    )
    claimed = set(claim(session, QUOTE_IDLE, [row.quote_id for row in idle]))
    told: dict[int, list[dict[str, object]]] = defaultdict(list)
    for row in idle:
        if row.quote_id in claimed:
            told[row.customer_id].append(
                {"days": settings.quote_idle_days, "quoted": _shown(row.quoted_at, settings)}
            )
    _tell(session, QUOTE_IDLE, told)
    return len(claimed)


def fire_instalment_overdue(session: Session, now: datetime, settings: Settings) -> int:
    """Instalments past their due day and not covered by receipts: the owner and finance are told."""
    today = team_day(now, settings)
    overdue = overdue_instalments(
        session, today=today, since=today - timedelta(days=settings.timer_lookback_days)
    )
    claimed = set(claim(session, INSTALMENT_OVERDUE, [row.instalment_id for row in overdue]))
    if not claimed:
        return 0
    numbers = dict(
        session.execute(
            select(Contract.id, Contract.contract_no).where(
                Contract.id.in_({row.contract_id for row in overdue if row.instalment_id in claimed})
            )
        ).all()
    )
    finance = list(
        session.scalars(
            select(User.id).where(User.role.in_(FINANCE_ROLES), User.is_active.is_(True)).order_by(User.id)
        )
    )
    told: dict[int, list[dict[str, object]]] = defaultdict(list)
    for row in overdue:
        if row.instalment_id in claimed:
            told[row.customer_id].append(
                {
                    "contract_no": numbers.get(row.contract_id) or "—",
                    "amount": f"{row.amount:,.2f}",
                    "due": row.due_on.isoformat(),
                }
            )
    _tell(session, INSTALMENT_OVERDUE, told, extra_users=finance)
    return len(claimed)


def fire_survey_issued(session: Session, now: datetime, settings: Settings) -> int:
    """Won customers CRM_SURVEY_AFTER_WIN_DAYS after the win: a survey link is issued (funnel.closing.surveys
    tells the owner to forward it, and their group bot)."""
    after = settings.survey_after_win_days
    since = now - timedelta(days=after + settings.timer_lookback_days)
    claimed = claim(session, SURVEY_ISSUED, survey_due(session, now=now, after_days=after, since=since))
    for customer_id in claimed:
        issue_survey(session, actor=SYSTEM, customer_id=customer_id, now=now)
    return len(claimed)


CLOSING_RULES: tuple[Rule, ...] = (
    Rule(PROPOSAL_FEEDBACK_DUE, fire_proposal_feedback_due),
    Rule(QUOTE_IDLE, fire_quote_idle),
    Rule(INSTALMENT_OVERDUE, fire_instalment_overdue),
    Rule(SURVEY_ISSUED, fire_survey_issued),
)


def quote_idle_flag(session: Session, customer_id: int, now: datetime) -> bool:
    settings = get_settings()
    return bool(idle_quotes(session, now=now, idle_days=settings.quote_idle_days, customer_id=customer_id))


def proposal_feedback_flag(session: Session, customer_id: int, now: datetime) -> bool:
    return bool(feedback_due(session, now=now, customer_id=customer_id))


def instalment_overdue_flag(session: Session, customer_id: int, now: datetime) -> bool:
    today = team_day(now, get_settings())
    return bool(overdue_instalments(session, today=today, customer_id=customer_id))


RED_FLAGS = (
    ("flag.proposal_feedback_due", proposal_feedback_flag),
    ("flag.quote_idle", quote_idle_flag),
    ("flag.instalment_overdue", instalment_overdue_flag),
)


def install() -> None:
    """Join the timer engine and the customer guide (idempotent)."""
    register_rules(*CLOSING_RULES)
    for key, check in RED_FLAGS:
        register_red_flag(key, check)

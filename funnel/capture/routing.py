"""Lead routing: ordered rules send a new lead to a rep or a team (round robin or least loaded).

A rule matches on region, industry, channel, campaign, score or tags and names a rep or a team. Within a
team, reps marked away, inactive or at their cap of open leads are skipped; round robin keeps a cursor per
team in the database (read and moved under a lock in the routing transaction, so concurrent routing stays
fair); least loaded picks the member with the fewest open leads. No rule able to place the lead: the
fallback owner, else the fallback queue (a team's unowned intake), else the lead stays unassigned.

Every decision records why ("rule 3: 华东 + 教育 -> team East, least loaded: 王芳, 12 open") on the
customer (`assignment_reason`, a message key and its parameters, rendered in the reader's language), in
the audit row and in the new owner's inbox.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM, Actor, assignee_error, require
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction
from funnel.core import events
from funnel.core.clock import utcnow
from funnel.core.db import session_scope, take_write_lock
from funnel.core.i18n import LANGUAGES, t
from funnel.customers.edit import assign_customer
from funnel.inbox.notify import notify
from funnel.store.models import (
    Customer,
    CustomerTag,
    ListItem,
    RoutingConfig,
    RoutingCursor,
    RoutingRule,
    User,
)

ROUND_ROBIN, LEAST_LOADED = "round_robin", "least_loaded"
METHODS = (ROUND_ROBIN, LEAST_LOADED)
LIST_CONDITIONS = ("region", "industry", "channel", "campaign", "tags")
SCORE_CONDITIONS = ("score_min", "score_max")
CONDITIONS = (*LIST_CONDITIONS, *SCORE_CONDITIONS)
_CHUNK = 500


# ---------------------------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Conditions:
    """What a lead must have for a rule to match; an empty list or None matches anything."""

    region: tuple[str, ...] = ()
    industry: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    campaign: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # any one of these tag codes
    score_min: int | None = None
    score_max: int | None = None

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = {name: list(getattr(self, name)) for name in LIST_CONDITIONS}
        data |= {name: getattr(self, name) for name in SCORE_CONDITIONS}
        return {name: value for name, value in data.items() if value not in ((), [], None)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Conditions:
        data = data or {}
        lists = {name: tuple(str(v) for v in data.get(name) or ()) for name in LIST_CONDITIONS}
        scores = {
            name: (int(data[name]) if data.get(name) is not None else None) for name in SCORE_CONDITIONS
        }
        return cls(**lists, **scores)  # type: ignore[arg-type]

    def label(self) -> str:
        """The conditions in short, as a reason names them: "华东 + 教育", "score ≥ 60"."""
        parts = [" / ".join(getattr(self, name)) for name in LIST_CONDITIONS if getattr(self, name)]
        if self.score_min is not None:
            parts.append(f"score ≥ {self.score_min}")
        if self.score_max is not None:
            parts.append(f"score ≤ {self.score_max}")
        return " + ".join(parts) or "*"


@dataclass(frozen=True)
class Rule:
    """A routing rule as the router reads it (ids resolved, conditions typed)."""

    position: int
    name: str
    conditions: Conditions
    target_user_id: int | None = None
    target_team: str | None = None
    method: str = ROUND_ROBIN
    active: bool = True
    id: int | None = None

    @property
    def label(self) -> str:
        return self.name or self.conditions.label()


@dataclass(frozen=True)
class LeadFacts:
    """What the rules look at in a lead."""

    region: str | None = None
    industry: str | None = None
    channel: str | None = None
    campaign: str | None = None
    score: int | None = None
    tags: frozenset[str] = frozenset()


def _norm(value: str | None) -> str:
    return (value or "").strip().casefold()


def matches(conditions: Conditions, lead: LeadFacts) -> bool:
    """Whether `lead` meets every condition (text compared trimmed and case-insensitively)."""
    for name in ("region", "industry", "channel", "campaign"):
        wanted = getattr(conditions, name)
        if wanted and _norm(getattr(lead, name)) not in {_norm(v) for v in wanted}:
            return False
    if conditions.tags and not {_norm(v) for v in conditions.tags} & {_norm(v) for v in lead.tags}:
        return False
    if conditions.score_min is not None and (lead.score is None or lead.score < conditions.score_min):
        return False
    return not (
        conditions.score_max is not None and (lead.score is None or lead.score > conditions.score_max)
    )


@dataclass(frozen=True)
class RoutingSettings:
    """The fallback owner or queue and the default cap of open leads per rep (None: no cap)."""

    fallback_user_id: int | None = None
    fallback_team: str | None = None
    max_open_leads: int | None = None


def load_rules(session: Session, *, active_only: bool = False) -> list[Rule]:
    query = select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id)
    if active_only:
        query = query.where(RoutingRule.active)
    return [
        Rule(
            position=row.position,
            name=row.name,
            conditions=Conditions.from_json(row.conditions),
            target_user_id=row.target_user_id,
            target_team=row.target_team,
            method=row.method,
            active=row.active,
            id=row.id,
        )
        for row in session.scalars(query)
    ]


def load_settings(session: Session) -> RoutingSettings:
    row = session.get(RoutingConfig, 1)
    if row is None:
        return RoutingSettings()
    return RoutingSettings(row.fallback_user_id, row.fallback_team, row.max_open_leads)


# ------------------------------------------------------------------------------------------- reasons


@dataclass(frozen=True)
class RouteDecision:
    """Who gets a lead (None: nobody), the team it belongs to, and why (a message key and parameters)."""

    owner_id: int | None
    team: str | None
    reason: dict[str, Any]


def reason(key: str, **params: object) -> dict[str, Any]:
    return {"key": key, "params": params}


def describe_reason(value: Mapping[str, Any] | None, lang: str) -> str:
    """A stored assignment reason in `lang` ("" when the customer has none)."""
    if not value or "key" not in value:
        return ""
    params = dict(value.get("params") or {})
    if "method" in params:
        params["method"] = t(f"routing.method.{params['method']}", lang)
    skipped = params.pop("skipped", None)
    try:
        text = t(str(value["key"]), lang, **params)
    except (KeyError, IndexError, ValueError):
        return str(value["key"])
    if skipped:
        text += t("routing.reason.skipped", lang, rules=skipped)
    return text


# -------------------------------------------------------------------------------------------- router


@dataclass
class Member:
    """A user as the router sees them: may they take a lead, and how many open leads they hold."""

    id: int
    name: str
    team: str | None
    available: bool  # active, works customers, not away
    cap: int | None
    open_leads: int = 0

    @property
    def has_room(self) -> bool:
        return self.available and (self.cap is None or self.open_leads < self.cap)


def pick_round_robin(members: Sequence[Member], last_user_id: int | None) -> Member | None:
    """The first member with room after `last_user_id` in id order, wrapping around."""
    ordered = sorted(members, key=lambda m: m.id)
    start = 0
    if last_user_id is not None:
        start = next((i for i, m in enumerate(ordered) if m.id > last_user_id), 0)
    for member in ordered[start:] + ordered[:start]:
        if member.has_room:
            return member
    return None


def pick_least_loaded(members: Sequence[Member]) -> Member | None:
    """The member with room holding the fewest open leads (the lower id on a tie)."""
    candidates = [m for m in members if m.has_room]
    return min(candidates, key=lambda m: (m.open_leads, m.id)) if candidates else None


class Router:
    """One routing transaction: rules, settings and members loaded once; cursors locked when first used."""

    def __init__(self, session: Session):
        self.session = session
        self.rules = load_rules(session, active_only=True)
        self.settings = load_settings(session)
        self.members: dict[int, Member] = {}
        self.cursors: dict[str, RoutingCursor] = {}
        self._loaded_teams: set[str] = set()
        # SQLite: the whole routing runs under the write lock (one writer, so cursors stay consistent).
        take_write_lock(session)

    @property
    def configured(self) -> bool:
        return bool(self.rules or self.settings.fallback_user_id or self.settings.fallback_team)

    def _load_users(self, query: Any) -> list[Member]:
        found = []
        new_ids = []
        for user in self.session.scalars(query):
            if user.id not in self.members:
                available = user.is_active and not user.away
                available = available and assignee_error(SYSTEM, user, field="owner_id") is None
                cap = user.max_open_leads if user.max_open_leads is not None else self.settings.max_open_leads
                self.members[user.id] = Member(
                    user.id, user.display_name or user.username, user.team, available, cap
                )
                new_ids.append(user.id)
            found.append(self.members[user.id])
        for start in range(0, len(new_ids), _CHUNK):
            chunk = new_ids[start : start + _CHUNK]
            counts = select(Customer.owner_id, func.count()).where(
                Customer.owner_id.in_(chunk), Customer.status == "open"
            )
            for owner_id, count in self.session.execute(counts.group_by(Customer.owner_id)):
                if owner_id is not None:
                    self.members[owner_id].open_leads = int(count)
        return found

    def team(self, name: str) -> list[Member]:
        if name not in self._loaded_teams:
            self._loaded_teams.add(name)
            self._load_users(select(User).where(User.team == name))
        return [m for m in self.members.values() if m.team == name]

    def user(self, user_id: int) -> Member | None:
        if user_id not in self.members:
            self._load_users(select(User).where(User.id == user_id))
        return self.members.get(user_id)

    def cursor(self, team: str) -> RoutingCursor:
        """The team's cursor row, created if missing and locked for the rest of the transaction."""
        if team not in self.cursors:
            dialect = self.session.get_bind().dialect.name
            values = {"team": team, "last_user_id": None, "updated_at": utcnow()}
            if dialect == "postgresql":
                stmt: Any = postgresql.insert(RoutingCursor).values(**values).on_conflict_do_nothing()
            else:
                stmt = sqlite.insert(RoutingCursor).values(**values).on_conflict_do_nothing()
            self.session.execute(stmt)
            query = select(RoutingCursor).where(RoutingCursor.team == team).with_for_update()
            row = self.session.scalars(query.execution_options(populate_existing=True)).one()
            self.cursors[team] = row
        return self.cursors[team]

    def decide(self, lead: LeadFacts) -> RouteDecision:
        skipped: list[str] = []
        for number, rule in enumerate(self.rules, start=1):
            if not matches(rule.conditions, lead):
                continue
            decision = self._apply_rule(number, rule)
            if decision is not None:
                if skipped:
                    decision.reason["params"]["skipped"] = ", ".join(skipped)
                return decision
            skipped.append(str(number))
        decision = self._fallback()
        if skipped:
            decision.reason["params"]["skipped"] = ", ".join(skipped)
        return decision

    def _apply_rule(self, number: int, rule: Rule) -> RouteDecision | None:
        if rule.target_user_id is not None:
            member = self.user(rule.target_user_id)
            if member is None or not member.has_room:
                return None
            self._took(member)
            why = reason("routing.reason.user", rule_no=number, rule=rule.label, owner=member.name,
                         open=member.open_leads)  # fmt: skip
            return RouteDecision(member.id, member.team, why)
        if rule.target_team:
            members = self.team(rule.target_team)
            cursor = self.cursor(rule.target_team)  # locked even for least loaded: one router per team
            if rule.method == LEAST_LOADED:
                member = pick_least_loaded(members)
            else:
                member = pick_round_robin(members, cursor.last_user_id)
            if member is None:
                return None
            cursor.last_user_id = member.id
            cursor.updated_at = utcnow()
            self._took(member)
            why = reason("routing.reason.team", rule_no=number, rule=rule.label, team=rule.target_team,
                         method=rule.method, owner=member.name, open=member.open_leads)  # fmt: skip
            return RouteDecision(member.id, rule.target_team, why)
        return None

    def _took(self, member: Member) -> None:
        member.open_leads += 1

    def _fallback(self) -> RouteDecision:
        settings = self.settings
        if settings.fallback_user_id is not None:
            member = self.user(settings.fallback_user_id)
            if member is not None and member.available:  # the fallback owner takes it whatever the cap
                self._took(member)
                return RouteDecision(
                    member.id, member.team, reason("routing.reason.fallback_user", owner=member.name)
                )
        if settings.fallback_team:
            team = settings.fallback_team
            return RouteDecision(None, team, reason("routing.reason.fallback_queue", team=team))
        return RouteDecision(None, None, reason("routing.reason.none"))


# --------------------------------------------------------------------------------------- use cases


def lead_facts(customer: Customer, tags: Iterable[str] = ()) -> LeadFacts:
    return LeadFacts(
        region=customer.region,
        industry=customer.industry,
        channel=customer.channel,
        campaign=customer.campaign,
        score=customer.score,
        tags=frozenset(tags),
    )


def tag_codes(session: Session, customer_ids: Sequence[int]) -> dict[int, set[str]]:
    """Each customer's tag codes (customer_tag links to `tag` list items)."""
    codes: dict[int, set[str]] = {}
    for start in range(0, len(customer_ids), _CHUNK):
        chunk = customer_ids[start : start + _CHUNK]
        query = (
            select(CustomerTag.customer_id, ListItem.code)
            .join(ListItem, ListItem.id == CustomerTag.tag_id)
            .where(CustomerTag.customer_id.in_(chunk), ListItem.list_name == "tag")
        )
        for customer_id, code in session.execute(query):
            codes.setdefault(customer_id, set()).add(code)
    return codes


def route_customer(session: Session, customer: Customer, now: datetime | None = None) -> RouteDecision:
    """Which owner the rules give `customer` and why (nothing is written: see route_many)."""
    router = Router(session)
    return router.decide(lead_facts(customer, tag_codes(session, [customer.id]).get(customer.id, ())))


def route_many(
    session: Session, customer_ids: Sequence[int], *, actor: Actor, now: datetime | None = None
) -> dict[int, RouteDecision]:
    """Route the unowned open customers among `customer_ids` in the session's transaction.

    Each gets its owner (or queue) and `assignment_reason`, an audit row, a LeadAssigned event and a
    notification for its new owner. Customers that have an owner are left as they are.
    """
    require(actor, "customer.assign")
    if not customer_ids:
        return {}
    router = Router(session)
    if not router.configured:
        return {}  # no rule and no fallback: routing is not in use, leads stay as they were entered
    decisions: dict[int, RouteDecision] = {}
    ids = list(dict.fromkeys(customer_ids))
    tags = tag_codes(session, ids)
    for start in range(0, len(ids), _CHUNK):
        query = select(Customer).where(Customer.id.in_(ids[start : start + _CHUNK])).order_by(Customer.id)
        customers = {c.id: c for c in session.scalars(query)}
        for customer_id in ids[start : start + _CHUNK]:
            customer = customers.get(customer_id)
            if customer is None or customer.owner_id is not None or customer.status != "open":
                continue
            decision = router.decide(lead_facts(customer, tags.get(customer_id, ())))
            _apply(session, customer, decision, actor=actor)
            decisions[customer_id] = decision
    session.flush()
    return decisions


def mark_not_routed(session: Session, customer_ids: Sequence[int]) -> None:
    """Record on unowned new leads that they were deliberately left unassigned (import --no-route)."""
    why = reason("routing.reason.not_routed")
    for start in range(0, len(customer_ids), _CHUNK):
        chunk = list(customer_ids[start : start + _CHUNK])
        session.execute(
            update(Customer)
            .where(Customer.id.in_(chunk), Customer.owner_id.is_(None), Customer.assignment_reason.is_(None))
            .values(assignment_reason=why)
            .execution_options(synchronize_session=False)
        )


def _apply(session: Session, customer: Customer, decision: RouteDecision, *, actor: Actor) -> None:
    before_owner, before_team = customer.owner_id, customer.team
    customer.owner_id = decision.owner_id
    customer.team = decision.team or customer.team
    customer.assignment_reason = decision.reason
    changes: dict[str, list[object]] = {"assignment_reason": [None, describe_reason(decision.reason, "en")]}
    if before_owner != customer.owner_id:
        changes["owner_id"] = [before_owner, customer.owner_id]
    if before_team != customer.team:
        changes["team"] = [before_team, customer.team]
    audit.record_customer(session, actor=actor, customer=customer, action=AuditAction.ASSIGN, changes=changes)
    if decision.owner_id is not None:
        events.record(session, events.LeadAssigned(customer.id, decision.owner_id, before_owner))
        notify(
            session,
            user_id=decision.owner_id,
            kind="lead_assigned",
            params={
                "customer_no": customer.customer_no,
                "name": customer.name,
                **{f"reason_{lang}": describe_reason(decision.reason, lang) for lang in LANGUAGES},
            },
            customer_id=customer.id,
        )


def route_new_leads(batch: list[events.LeadCreated], engine: Engine) -> None:
    """After new leads are committed (one form save, or an import's batch of 1,000): route those with no
    owner that were not routed or held back yet, in one routing transaction (rules, settings and members
    loaded once), and tell the owners of leads a manager's import assigned by hand."""
    told = [e for e in batch if e.owner_id is not None and e.by_role not in ("system", "public", "rep")]
    if told:  # a rep's own lead needs no message; system and public leads are routed, not told
        with session_scope(engine) as session:
            owners = {e.owner_id for e in told}
            active = set(session.scalars(select(User.id).where(User.id.in_(owners), User.is_active)))
            for event in told:
                if event.owner_id in active:
                    notify(session, user_id=event.owner_id, kind="lead_new", customer_id=event.customer_id,
                           params={"customer_no": event.customer_no})  # fmt: skip
    candidates = [e.customer_id for e in batch if e.owner_id is None]
    if not candidates:
        return
    with session_scope(engine) as session:
        waiting: list[int] = []
        for start in range(0, len(candidates), _CHUNK):
            chunk = candidates[start : start + _CHUNK]
            waiting += session.scalars(
                select(Customer.id).where(
                    Customer.id.in_(chunk), Customer.owner_id.is_(None), Customer.assignment_reason.is_(None)
                )
            )
        if waiting:
            route_many(session, sorted(waiting), actor=SYSTEM)


def reassign_many(session: Session, *, actor: Actor, customer_ids: Sequence[int], owner_id: int) -> int:
    """A manager gives many customers to one owner: each assigned, audited and told as one assignment."""
    require(actor, "customer.assign")
    count = 0
    for customer_id in dict.fromkeys(customer_ids):
        assign_customer(session, actor=actor, customer_id=customer_id, owner_id=owner_id)
        count += 1
    session.flush()
    return count

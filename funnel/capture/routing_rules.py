"""Editing the routing: the rule set as the settings page and `python -m funnel rules load|show` read and
write it (validated as a whole, replaced in one transaction), its TOML file form, and the reps' routing
state (away, caps, open leads) with a preview of where a lead would go.

The router itself, which applies the rules to new leads, is funnel.capture.routing.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM, Actor, assignee_error, require
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.capture.routing import (
    LIST_CONDITIONS,
    METHODS,
    ROUND_ROBIN,
    SCORE_CONDITIONS,
    Conditions,
    LeadFacts,
    RouteDecision,
    Router,
    RoutingSettings,
    Rule,
    load_rules,
    load_settings,
)
from funnel.core.db import take_write_lock
from funnel.core.errors import FORM, FieldError, ValidationError
from funnel.core.i18n import t
from funnel.store.models import Customer, RoutingConfig, RoutingRule, User

_CHUNK = 500  # IN lists well under the databases' bound-parameter limits

# ----------------------------------------------------------------------------- editing the rule set


@dataclass(frozen=True)
class RuleInput:
    """A rule as typed on the settings page or in the TOML file: a rep by username or a team by name."""

    name: str = ""
    region: Sequence[str] = ()
    industry: Sequence[str] = ()
    channel: Sequence[str] = ()
    campaign: Sequence[str] = ()
    tags: Sequence[str] = ()
    score_min: object = None
    score_max: object = None
    owner: str | None = None
    team: str | None = None
    method: str = ROUND_ROBIN
    active: bool = True


@dataclass(frozen=True)
class RuleSet:
    rules: list[RuleInput] = field(default_factory=list)
    fallback_owner: str | None = None
    fallback_queue: str | None = None
    max_open_leads: object = None


def _rule_field(number: int, name: str) -> str:
    return f"rule{number}.{name}"


def _as_int(value: object, field_name: str, errors: list[FieldError], params: dict[str, str]) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        number = int(str(value).strip())
    except ValueError:
        errors.append(FieldError(field_name, "routing.error.not_a_number", {**params, "value": str(value)}))
        return None
    if number < 0:
        errors.append(FieldError(field_name, "routing.error.not_a_number", {**params, "value": str(value)}))
        return None
    return number


def _values(raw: object) -> tuple[str, ...]:
    if isinstance(raw, str):
        items: Iterable[object] = raw.split(",")
    elif isinstance(raw, (list, tuple)):
        items = raw
    else:
        return ()  # nothing, or not a list (parse_rules_toml reports that)
    return tuple(dict.fromkeys(str(v).strip() for v in items if str(v).strip()))


def validate_rules(session: Session, rule_set: RuleSet) -> tuple[list[Rule], RoutingSettings]:
    """Typed rules and settings; ValidationError naming each bad rule (by number and name) and field."""
    errors: list[FieldError] = []
    users = {u.username.casefold(): u for u in session.scalars(select(User))}
    rules: list[Rule] = []
    for number, raw in enumerate(rule_set.rules, start=1):
        params = {"rule": str(number), "name": raw.name or ""}
        score_min = _as_int(raw.score_min, _rule_field(number, "score_min"), errors, params)
        score_max = _as_int(raw.score_max, _rule_field(number, "score_max"), errors, params)
        if score_min is not None and score_max is not None and score_min > score_max:
            errors.append(FieldError(_rule_field(number, "score_max"), "routing.error.score_range", params))
        owner, team = (raw.owner or "").strip(), (raw.team or "").strip()
        target_user: User | None = None
        if bool(owner) == bool(team):
            errors.append(FieldError(_rule_field(number, "owner"), "routing.error.one_target", params))
        elif owner:
            target_user = users.get(owner.casefold())
            if target_user is None:
                errors.append(FieldError(_rule_field(number, "owner"), "routing.error.unknown_user",
                                         {**params, "value": owner}))  # fmt: skip
            elif assignee_error(SYSTEM, target_user, field="owner") is not None:
                errors.append(FieldError(_rule_field(number, "owner"), "routing.error.cannot_own",
                                         {**params, "value": owner}))  # fmt: skip
        if raw.method not in METHODS:
            errors.append(FieldError(_rule_field(number, "method"), "routing.error.method",
                                     {**params, "value": str(raw.method)}))  # fmt: skip
        if len(raw.name or "") > 100 or len(team) > 64:
            errors.append(FieldError(_rule_field(number, "name"), "routing.error.too_long", params))
        conditions = Conditions(
            region=_values(raw.region),
            industry=_values(raw.industry),
            channel=_values(raw.channel),
            campaign=_values(raw.campaign),
            tags=_values(raw.tags),
            score_min=score_min,
            score_max=score_max,
        )
        rules.append(
            Rule(
                position=number,
                name=(raw.name or "").strip(),
                conditions=conditions,
                target_user_id=target_user.id if target_user else None,
                target_team=team or None,
                method=raw.method,
                active=bool(raw.active),
            )
        )
    fallback_user_id = None
    if rule_set.fallback_owner and rule_set.fallback_owner.strip():
        fallback = users.get(rule_set.fallback_owner.strip().casefold())
        if fallback is None or assignee_error(SYSTEM, fallback, field="fallback_owner") is not None:
            errors.append(FieldError("fallback_owner", "routing.error.fallback_owner",
                                     {"value": rule_set.fallback_owner}))  # fmt: skip
        else:
            fallback_user_id = fallback.id
    cap = _as_int(rule_set.max_open_leads, "max_open_leads", errors, {"rule": "-", "name": ""})
    if errors:
        raise ValidationError(errors)
    queue = (rule_set.fallback_queue or "").strip() or None
    return rules, RoutingSettings(fallback_user_id, queue, cap)


def replace_rules(session: Session, *, actor: Actor, rule_set: RuleSet) -> list[Rule]:
    """Replace the whole rule set and the settings at once (the TOML file, the settings page's saves)."""
    require(actor, "routing.manage")
    take_write_lock(session)
    rules, settings = validate_rules(session, rule_set)
    session.execute(delete(RoutingRule))
    for rule in rules:
        session.add(
            RoutingRule(
                position=rule.position,
                name=rule.name,
                conditions=rule.conditions.as_json(),
                target_user_id=rule.target_user_id,
                target_team=rule.target_team,
                method=rule.method,
                active=rule.active,
            )
        )
    config = session.get(RoutingConfig, 1) or RoutingConfig(id=1)
    config.fallback_user_id = settings.fallback_user_id
    config.fallback_team = settings.fallback_team
    config.max_open_leads = settings.max_open_leads
    session.add(config)
    session.flush()
    return load_rules(session)


def current_rule_set(session: Session) -> RuleSet:
    """The stored rules and settings as typed input (what `rules show` prints and the page edits)."""
    names = {uid: username for uid, username in session.execute(select(User.id, User.username))}
    settings = load_settings(session)
    rules = [
        RuleInput(
            name=rule.name,
            region=rule.conditions.region,
            industry=rule.conditions.industry,
            channel=rule.conditions.channel,
            campaign=rule.conditions.campaign,
            tags=rule.conditions.tags,
            score_min=rule.conditions.score_min,
            score_max=rule.conditions.score_max,
            owner=names.get(rule.target_user_id) if rule.target_user_id is not None else None,
            team=rule.target_team,
            method=rule.method,
            active=rule.active,
        )
        for rule in load_rules(session)
    ]
    return RuleSet(
        rules=rules,
        fallback_owner=names.get(settings.fallback_user_id) if settings.fallback_user_id else None,
        fallback_queue=settings.fallback_team,
        max_open_leads=settings.max_open_leads,
    )


# ----------------------------------------------------------------------------------- the TOML file

_RULE_KEYS = {*LIST_CONDITIONS, *SCORE_CONDITIONS, "name", "owner", "team", "method", "active"}
_SETTINGS_KEYS = {"fallback_owner", "fallback_queue", "max_open_leads"}


def parse_rules_toml(text: str) -> RuleSet:
    """The rule set of a TOML file: `[settings]` and one `[[rule]]` table per rule, in order."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError([FieldError(FORM, "routing.error.toml", {"reason": str(exc)})]) from exc
    errors: list[FieldError] = []
    unknown_top = set(data) - {"settings", "rule"}
    if unknown_top:
        errors.append(
            FieldError(FORM, "routing.error.unknown_table", {"value": ", ".join(sorted(unknown_top))})
        )
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        settings = {}
    for key in sorted(set(settings) - _SETTINGS_KEYS):
        errors.append(FieldError(key, "routing.error.unknown_setting", {"value": key}))
    raw_rules = data.get("rule") or []
    if not isinstance(raw_rules, list):
        raw_rules = []
        errors.append(FieldError(FORM, "routing.error.unknown_table", {"value": "rule"}))
    rules = []
    for number, raw in enumerate(raw_rules, start=1):
        if not isinstance(raw, dict):
            raw = {}
        params = {"rule": str(number), "name": str(raw.get("name", ""))}
        for key in sorted(set(raw) - _RULE_KEYS):
            errors.append(
                FieldError(_rule_field(number, key), "routing.error.unknown_key", {**params, "value": key})
            )
        for key in LIST_CONDITIONS:
            value = raw.get(key)
            if value is not None and not (isinstance(value, (str, list))):
                errors.append(
                    FieldError(_rule_field(number, key), "routing.error.not_a_list", {**params, "value": key})
                )
        if not isinstance(raw.get("active", True), bool):
            errors.append(FieldError(_rule_field(number, "active"), "routing.error.not_a_bool", params))
        rules.append(
            RuleInput(
                name=str(raw.get("name", "")),
                **{key: _values(raw.get(key)) for key in LIST_CONDITIONS},
                score_min=raw.get("score_min"),
                score_max=raw.get("score_max"),
                owner=raw.get("owner"),
                team=raw.get("team"),
                method=str(raw.get("method", ROUND_ROBIN)),
                active=raw.get("active", True) is True,
            )
        )
    if errors:
        raise ValidationError(errors)
    return RuleSet(
        rules=rules,
        fallback_owner=settings.get("fallback_owner"),
        fallback_queue=settings.get("fallback_queue"),
        max_open_leads=settings.get("max_open_leads"),
    )


def _toml_value(value: object) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    # A JSON string is a TOML basic string (the same escapes); non-ASCII text stays readable.
    return json.dumps(str(value), ensure_ascii=False)


def rules_to_toml(rule_set: RuleSet) -> str:
    """The rule set as a TOML file that parse_rules_toml reads back to the same rule set."""
    lines = ["[settings]"]
    for key in ("fallback_owner", "fallback_queue", "max_open_leads"):
        value = getattr(rule_set, key)
        if value is not None and value != "":
            lines.append(f"{key} = {_toml_value(value)}")
    for rule in rule_set.rules:
        lines += ["", "[[rule]]", f"name = {_toml_value(rule.name)}"]
        for key in LIST_CONDITIONS:
            if getattr(rule, key):
                lines.append(f"{key} = {_toml_value(list(getattr(rule, key)))}")
        for key in SCORE_CONDITIONS:
            if getattr(rule, key) is not None:
                lines.append(f"{key} = {_toml_value(getattr(rule, key))}")
        if rule.owner:
            lines.append(f"owner = {_toml_value(rule.owner)}")
        if rule.team:
            lines.append(f"team = {_toml_value(rule.team)}")
        lines.append(f"method = {_toml_value(rule.method)}")
        lines.append(f"active = {_toml_value(rule.active)}")
    return "\n".join(lines) + "\n"


def rules_as_json(rule_set: RuleSet) -> dict[str, object]:
    """The same rule set as plain JSON data (keys as in the TOML file)."""
    settings = {
        key: getattr(rule_set, key)
        for key in ("fallback_owner", "fallback_queue", "max_open_leads")
        if getattr(rule_set, key) not in (None, "")
    }
    rules = []
    for rule in rule_set.rules:
        item: dict[str, object] = {"name": rule.name}
        item |= {key: list(getattr(rule, key)) for key in LIST_CONDITIONS if getattr(rule, key)}
        item |= {key: getattr(rule, key) for key in SCORE_CONDITIONS if getattr(rule, key) is not None}
        item |= {key: getattr(rule, key) for key in ("owner", "team") if getattr(rule, key)}
        item |= {"method": rule.method, "active": rule.active}
        rules.append(item)
    return {"settings": settings, "rule": rules}


def describe_error(error: FieldError, lang: str) -> str:
    return t(error.code, lang, **error.params)


# --------------------------------------------------------------------------------- reps and caps


@dataclass(frozen=True)
class RepStatus:
    id: int
    username: str
    display_name: str
    team: str | None
    away: bool
    max_open_leads: int | None
    open_leads: int


def rep_statuses(session: Session, *, actor: Actor) -> list[RepStatus]:
    """Every active user who may own customers, with their away flag, cap and open leads."""
    require(actor, "routing.manage")
    counts = dict(
        session.execute(
            select(Customer.owner_id, func.count())
            .where(Customer.status == "open", Customer.owner_id.is_not(None))
            .group_by(Customer.owner_id)
        ).all()
    )
    users = session.scalars(
        select(User).where(User.is_active).order_by(User.team, User.display_name, User.id)
    )
    return [
        RepStatus(
            u.id, u.username, u.display_name, u.team, u.away, u.max_open_leads, int(counts.get(u.id, 0))
        )
        for u in users
        if assignee_error(SYSTEM, u, field="owner") is None
    ]


def set_availability(
    session: Session, *, actor: Actor, user_id: int, away: bool, max_open_leads: object
) -> None:
    """Mark a rep away (or back) and set their own cap of open leads (blank: the default cap)."""
    require(actor, "routing.manage")
    take_write_lock(session)
    user = session.get(User, user_id)
    if user is None:
        raise ValidationError([FieldError("user_id", "error.assignee_invalid")])
    errors: list[FieldError] = []
    cap = _as_int(max_open_leads, "max_open_leads", errors, {"rule": "-", "name": user.username})
    if errors:
        raise ValidationError(errors)
    before: dict[str, object] = {"away": user.away, "max_open_leads": user.max_open_leads}
    user.away, user.max_open_leads = bool(away), cap
    changes = audit.diff(before, {"away": user.away, "max_open_leads": user.max_open_leads})
    if changes:
        audit.record(session, action=AuditAction.UPDATE, entity=AuditEntity.USER, entity_id=user.id,
                     user_id=actor.user_id, changes=changes)  # fmt: skip
    session.flush()


def preview(session: Session, *, actor: Actor, lead: LeadFacts) -> RouteDecision:
    """Which owner a lead with these facts would get and why (nothing is written, the cursor not moved)."""
    require(actor, "routing.manage")
    router = Router(session)
    decision = router.decide(lead)
    session.rollback()  # the cursor row a round robin created or moved stays as it was
    return decision


def customer_ids_by_number(session: Session, *, actor: Actor, numbers: Iterable[str]) -> list[int]:
    """The ids of the customers numbered `numbers` that `actor` may see; ValidationError naming any other."""
    from funnel.access.permissions import customer_scope

    require(actor, "customer.assign")  # the bulk reassignment's lookup

    wanted = list(dict.fromkeys(n.strip() for n in numbers if n.strip()))
    if not wanted:
        raise ValidationError([FieldError("numbers", "routing.error.no_customers")])
    scope = customer_scope(session, actor)
    found: dict[str, int] = {}
    for start in range(0, len(wanted), _CHUNK):
        query = select(Customer.customer_no, Customer.id).where(
            Customer.customer_no.in_(wanted[start : start + _CHUNK]), *scope.conditions()
        )
        found |= {no: cid for no, cid in session.execute(query)}
    missing = [n for n in wanted if n not in found]
    if missing:
        raise ValidationError(
            [FieldError("numbers", "routing.error.unknown_customer", {"value": ", ".join(missing[:10])})]
        )
    return [found[n] for n in wanted]

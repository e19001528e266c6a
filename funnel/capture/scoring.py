"""The lead score: 0-100 from editable rules, always with its reasons.

A rule is a condition from a fixed vocabulary (`KINDS`) with points and a label in each language,
stored in `score_rule` so a manager edits them in settings. A customer's score is BASE plus the points
of every rule that holds, clamped to 0..100; its reasons are those rules, stored beside the score as
[{"points": 20, "kind": "intake_is", "arg": "form", "en": "left details themselves", "zh": ...}].
`reasons_text(reasons, lang)` renders them as "+20 left details themselves · +15 budget stated".

A new lead is scored as it is stored (funnel.capture.leads.store_leads, with `new_lead_facts`); an edit
or a stage move is scored again after its commit (handlers below, subscribed in
funnel.integrations.handlers); everyone in bulk by `rescore_all`. The scorer writes score columns with a
Core UPDATE and records no event, so its write never triggers it again, bumps no version (a rep's open
form does not become stale) and keeps `updated_at`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

import sqlalchemy as sa
from sqlalchemy import Engine, Table, bindparam, func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, require
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.core import events
from funnel.core.db import session_scope
from funnel.core.errors import FieldError, ValidationError
from funnel.customers.tags import sync_tags_from_text, sync_tags_from_texts
from funnel.store.models import Contact, Customer, CustomerTag, ListItem, ScoreRule

_CUSTOMERS = cast(Table, Customer.__table__)

BASE = 30
MIN_SCORE, MAX_SCORE = 0, 100
# The condition vocabulary; `arg` is a field name, a channel/tag code, a grade or an intake kind.
KINDS = ("field_filled", "channel_is", "tag_has", "grade_is", "intake_is", "decision_maker", "budget_low")
FILLABLE = (
    "phone", "email", "wechat", "company", "budget_range", "purchase_timeline", "use_case", "industry",
    "region", "campaign", "competitors",
)  # fmt: skip
INTAKES = ("form", "rep", "import")
GRADES = ("A", "B", "C")
# Budget bands that count as low (the demo's and the lead form's wording).
LOW_BUDGETS = frozenset({"10万以下", "5万以下", "low", "低", "<10万"})

# (kind, arg, points, English, Chinese): the defaults a new install starts with.
DEFAULT_RULES: tuple[tuple[str, str | None, int, str, str], ...] = (
    ("intake_is", "form", 20, "left details themselves", "客户主动留资"),
    ("field_filled", "budget_range", 15, "budget stated", "已说明预算"),
    ("decision_maker", None, 15, "talks to the decision maker", "已接触决策人"),
    ("budget_low", None, -10, "budget low", "预算偏低"),
    ("channel_is", "转介绍", 15, "came by referral", "转介绍而来"),
    ("channel_is", "展会", 10, "met at a trade show", "展会结识"),
    ("tag_has", "高意向", 15, "tagged high intent", "标记为高意向"),
    ("tag_has", "大客户", 10, "key account", "大客户"),
    ("grade_is", "A", 15, "graded A", "评级 A"),
    ("grade_is", "C", -10, "graded C", "评级 C"),
    ("field_filled", "purchase_timeline", 5, "purchase timeline known", "已知采购时间"),
    ("field_filled", "phone", 5, "left a phone number", "留了电话"),
    ("field_filled", "company", 5, "company known", "已知公司"),
)


@dataclass(frozen=True)
class Rule:
    kind: str
    arg: str | None
    points: int
    label_en: str
    label_zh: str
    id: int | None = None
    active: bool = True


@dataclass
class Facts:
    """What the rules look at for one customer."""

    fields: dict[str, object] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    decision_maker: bool = False


def _holds(rule: Rule, facts: Facts) -> bool:
    f = facts.fields
    if rule.kind == "field_filled":
        value = f.get(rule.arg or "")
        return value not in (None, "", False)
    if rule.kind == "channel_is":
        return f.get("channel") == rule.arg
    if rule.kind == "tag_has":
        return rule.arg in facts.tags
    if rule.kind == "grade_is":
        return f.get("grade") == rule.arg
    if rule.kind == "intake_is":
        return f.get("intake") == rule.arg
    if rule.kind == "decision_maker":
        return facts.decision_maker
    if rule.kind == "budget_low":
        return f.get("budget_range") in LOW_BUDGETS
    raise ValueError(f"unknown rule kind {rule.kind!r}")


def score_facts(rules: Sequence[Rule], facts: Facts) -> tuple[int, list[dict[str, object]]]:
    """(score, reasons) for one customer: BASE plus the points of every active rule that holds, in 0..100."""
    reasons: list[dict[str, object]] = []
    total = BASE
    for rule in rules:
        if rule.active and rule.points and _holds(rule, facts):
            total += rule.points
            reasons.append(
                {
                    "points": rule.points,
                    "kind": rule.kind,
                    "arg": rule.arg,
                    "en": rule.label_en,
                    "zh": rule.label_zh,
                }
            )
    return max(MIN_SCORE, min(MAX_SCORE, total)), reasons


def reasons_text(reasons: Iterable[dict[str, object]] | None, lang: str) -> str:
    """The reasons in one line: "+20 left details themselves · −10 budget low"."""
    parts = []
    for reason in reasons or ():
        points = int(str(reason.get("points", 0)))
        sign = f"+{points}" if points > 0 else f"\u2212{-points}"
        parts.append(f"{sign} {reason.get('zh' if lang == 'zh' else 'en', '')}")
    return " · ".join(parts)


# --- the rules table -------------------------------------------------------------------------------------


def _rule_table() -> sa.TableClause:
    return sa.table(
        "score_rule",
        sa.column("kind", sa.String),
        sa.column("arg", sa.String),
        sa.column("points", sa.Integer),
        sa.column("label_en", sa.String),
        sa.column("label_zh", sa.String),
        sa.column("sort_order", sa.Integer),
        sa.column("active", sa.Boolean),
    )


def seed_rules(session: Session) -> int:
    """Write the default rules into an empty rules table (Core: migration 0012 calls it); returns how many."""
    table = _rule_table()
    if session.scalar(select(func.count()).select_from(table)):
        return 0
    rows = [
        dict(kind=k, arg=a, points=p, label_en=en, label_zh=zh, sort_order=i, active=True)
        for i, (k, a, p, en, zh) in enumerate(DEFAULT_RULES)
    ]
    session.execute(sa.insert(table), rows)
    return len(rows)


def load_rules(session: Session, *, include_inactive: bool = False) -> list[Rule]:
    query = select(ScoreRule).order_by(ScoreRule.sort_order, ScoreRule.id)
    if not include_inactive:
        query = query.where(ScoreRule.active.is_(True))
    return [
        Rule(r.kind, r.arg, r.points, r.label_en, r.label_zh, r.id, r.active) for r in session.scalars(query)
    ]


def validate_rule(rule: Rule, row: int) -> list[FieldError]:
    """What is wrong with one edited rule (row numbers from 1, named in the message)."""
    errors = []
    if rule.kind not in KINDS:
        errors.append(FieldError("kind", "scoring.kind_unknown", {"row": str(row), "value": rule.kind}))
    elif rule.kind == "field_filled" and rule.arg not in FILLABLE:
        errors.append(FieldError("arg", "scoring.field_unknown", {"row": str(row), "value": rule.arg or ""}))
    elif rule.kind == "grade_is" and rule.arg not in GRADES:
        errors.append(FieldError("arg", "scoring.grade_unknown", {"row": str(row), "value": rule.arg or ""}))
    elif rule.kind == "intake_is" and rule.arg not in INTAKES:
        errors.append(FieldError("arg", "scoring.intake_unknown", {"row": str(row), "value": rule.arg or ""}))
    elif rule.kind in ("channel_is", "tag_has") and not (rule.arg or "").strip():
        errors.append(FieldError("arg", "scoring.arg_required", {"row": str(row)}))
    if not -100 <= rule.points <= 100:
        errors.append(FieldError("points", "scoring.points_range", {"row": str(row)}))
    if not (rule.label_en.strip() or rule.label_zh.strip()):
        errors.append(FieldError("label_en", "scoring.label_required", {"row": str(row)}))
    return errors


def save_rules(session: Session, *, actor: Actor, rules: Sequence[Rule]) -> None:
    """Replace the rules with `rules` (the settings table as edited); audited; rescore with rescore_all."""
    require(actor, "lists.manage")
    errors = [e for i, rule in enumerate(rules, start=1) for e in validate_rule(rule, i)]
    if errors:
        raise ValidationError(errors)
    before = [(r.kind, r.arg, r.points, r.active) for r in load_rules(session, include_inactive=True)]
    session.execute(sa.delete(ScoreRule))
    for i, rule in enumerate(rules):
        en, zh = (
            rule.label_en.strip() or rule.label_zh.strip(),
            rule.label_zh.strip() or rule.label_en.strip(),
        )
        session.add(
            ScoreRule(kind=rule.kind, arg=(rule.arg or "").strip() or None, points=rule.points, label_en=en,
                      label_zh=zh, sort_order=i, active=rule.active)
        )  # fmt: skip
    after = [(r.kind, r.arg, r.points, r.active) for r in rules]
    audit.record(
        session,
        action=AuditAction.UPDATE,
        entity=AuditEntity.SETTING,
        entity_id=None,
        user_id=actor.user_id,
        changes={"score_rules": [repr(before), repr(after)]},
    )
    session.flush()


# --- scoring stored customers ----------------------------------------------------------------------------

_FACT_COLUMNS = (
    "company", "industry", "region", "channel", "campaign", "grade", "intake", "budget_range",
    "purchase_timeline", "use_case", "competitors",
)  # fmt: skip


def load_facts(session: Session, customer_ids: Sequence[int] | None = None) -> dict[int, Facts]:
    """The facts of the given customers (all when None), in three set-based queries."""
    cols = [Customer.id, *(getattr(Customer, name) for name in _FACT_COLUMNS)]
    where = [Customer.id.in_(customer_ids)] if customer_ids is not None else []
    facts: dict[int, Facts] = {}
    for row in session.execute(select(*cols).where(*where)):
        facts[row[0]] = Facts(fields=dict(zip(_FACT_COLUMNS, row[1:], strict=True)))
    contact_where = [Contact.customer_id.in_(customer_ids)] if customer_ids is not None else []
    handles = (
        select(
            Contact.customer_id,
            func.max(sa.case((Contact.phone.is_not(None), 1), else_=0)),
            func.max(sa.case((Contact.email.is_not(None), 1), else_=0)),
            func.max(sa.case((Contact.wechat.is_not(None), 1), else_=0)),
            func.max(sa.case((Contact.is_decision_maker.is_(True), 1), else_=0)),
        )
        .where(*contact_where)
        .group_by(Contact.customer_id)
    )
    for customer_id, phone, email, wechat, dm in session.execute(handles):
        f = facts.get(customer_id)
        if f is not None:
            f.fields.update(phone=bool(phone), email=bool(email), wechat=bool(wechat))
            f.decision_maker = bool(dm)
    tag_where = [CustomerTag.customer_id.in_(customer_ids)] if customer_ids is not None else []
    tags: dict[int, set[str]] = defaultdict(set)
    for customer_id, code in session.execute(
        select(CustomerTag.customer_id, ListItem.code)
        .join(ListItem, ListItem.id == CustomerTag.tag_id)
        .where(*tag_where)
    ):
        tags[customer_id].add(code)
    for customer_id, codes in tags.items():
        if customer_id in facts:
            facts[customer_id].tags = frozenset(codes)
    return facts


def _write_scores(session: Session, scored: list[dict[str, object]]) -> None:
    table = _CUSTOMERS
    stmt = (
        sa.update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            score=bindparam("b_score"), score_reasons=bindparam("b_reasons"), updated_at=table.c.updated_at
        )
    )
    for start in range(0, len(scored), 5000):
        session.execute(stmt, scored[start : start + 5000])


def score_customers(session: Session, customer_ids: Sequence[int] | None = None) -> int:
    """Recompute and store the score and reasons of these customers (all when None); returns how many."""
    rules = load_rules(session)
    scored = []
    for customer_id, facts in load_facts(session, customer_ids).items():
        score, reasons = score_facts(rules, facts)
        scored.append({"b_id": customer_id, "b_score": score, "b_reasons": reasons})
    _write_scores(session, scored)
    return len(scored)


def score_customer(session: Session, customer_id: int) -> tuple[int, list[dict[str, object]]]:
    """Score one stored customer now, store it, and return (score, reasons)."""
    rules = load_rules(session)
    facts = load_facts(session, [customer_id]).get(customer_id)
    if facts is None:
        raise LookupError(f"no customer {customer_id}")
    score, reasons = score_facts(rules, facts)
    _write_scores(session, [{"b_id": customer_id, "b_score": score, "b_reasons": reasons}])
    return score, reasons


def rescore_all(engine: Engine) -> int:
    """Recompute every customer's rule score in one unit of work (init, demo, import, `train-score`)."""
    with session_scope(engine) as session:
        return score_customers(session)


# --- the event handlers (subscribed in funnel.integrations.handlers) -------------------------------------

_INTAKE_OF_ROLE = {"public": "form", "system": "import"}


def intake_of(role: str) -> str:
    """How a lead entered by someone in `role` came in: "form" (a prospect), "import" (the system: the
    command line, the demo), else "rep"."""
    return _INTAKE_OF_ROLE.get(role, "rep")


def new_lead_facts(
    row: Mapping[str, object], *, phone: bool, email: bool, wechat: bool, tags: Iterable[str]
) -> Facts:
    """The facts of a lead about to be stored (`row`: its customer columns), as load_facts would read them
    back: handles from its one contact, no decision maker yet."""
    fields = {name: row.get(name) for name in _FACT_COLUMNS}
    fields.update(phone=phone, email=email, wechat=wechat)
    return Facts(fields=fields, tags=frozenset(tags))


def score_before_routing(session: Session, customer_ids: Sequence[int]) -> None:
    """Link the tags and score these customers in the caller's transaction (the rows an import updated)."""
    for start in range(0, len(customer_ids), 5000):
        chunk = list(customer_ids[start : start + 5000])
        tagged = session.scalars(
            select(_CUSTOMERS.c.id).where(_CUSTOMERS.c.id.in_(chunk), _CUSTOMERS.c.tags.is_not(None))
        )
        sync_tags_from_texts(session, tagged.all())
        score_customers(session, chunk)


def score_updated_customer(event: events.CustomerUpdated, engine: Engine) -> None:
    """After an edit: keep the tag links in step with an edited tags string, and score again."""
    with session_scope(engine) as session:
        if "tags" in event.fields:
            sync_tags_from_text(session, event.customer_id)
        score_customers(session, [event.customer_id])


def score_after_stage(event: events.StageMoved, engine: Engine) -> None:
    """A stage move can change the grade or the decision maker's presence; cheap to score again."""
    with session_scope(engine) as session:
        score_customers(session, [event.customer_id])

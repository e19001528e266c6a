"""What the customer page's header says beyond the stage: the score and why, the learned chance of
winning and why, why it has its owner, its tags, and why it was lost."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.capture.routing import describe_reason
from funnel.capture.scoring import reasons_text
from funnel.core.i18n import t
from funnel.core.settings import get_settings
from funnel.customers.read import get_customer
from funnel.customers.stages import lost_reason_text
from funnel.customers.tags import tag_choices
from funnel.store.models import CustomerTag, ListItem

LEARNED_REASONS_SHOWN = 3


@dataclass(frozen=True)
class CustomerHeader:
    """The header's facts in one language; empty text where there is nothing to say."""

    score: int | None
    score_reasons: str  # "+20 left details themselves · −10 budget low"
    win_probability: float | None  # the learned model's, once one is trained (funnel.capture.learned_score)
    win_reasons: str  # its largest contributions: "channel: 展会 ↑ · grade: C ↓"
    assignment_reason: str  # "rule 3: 华东 + 教育 -> team East, least loaded: 王芳, 12 open"
    tag_codes: tuple[str, ...]
    tag_names: tuple[str, ...]
    tag_options: dict[str, str]  # code -> name of the tag library's active values (and the customer's)
    free_tags: bool  # whether the actor may add a tag that is not in the library
    lost_reason: str | None


def _learned_reasons(reasons: list[dict[str, object]] | None, lang: str) -> str:
    parts = []
    for reason in (reasons or [])[:LEARNED_REASONS_SHOWN]:
        feature = str(reason.get("feature", ""))
        label = t(f"field.{feature}", lang)
        label = feature if label == f"field.{feature}" else label
        weight = float(str(reason.get("weight", 0)))
        parts.append(f"{label}: {reason.get('value', '')} {'↑' if weight >= 0 else '↓'}")
    return " · ".join(parts)


def customer_header(session: Session, *, actor: Actor, customer_id: int, lang: str) -> CustomerHeader:
    """The header's facts about a customer the actor may read."""
    customer = get_customer(session, actor=actor, customer_id=customer_id)
    linked = session.execute(
        select(ListItem.code, ListItem.name_zh if lang == "zh" else ListItem.name_en)
        .join(CustomerTag, CustomerTag.tag_id == ListItem.id)
        .where(CustomerTag.customer_id == customer.id)
        .order_by(ListItem.sort_order, ListItem.code)
    ).all()
    options = {**tag_choices(session, lang), **{code: name for code, name in linked}}
    return CustomerHeader(
        score=customer.score,
        score_reasons=reasons_text(customer.score_reasons, lang),
        win_probability=customer.win_probability,
        win_reasons=_learned_reasons(customer.win_reasons, lang),
        assignment_reason=describe_reason(customer.assignment_reason, lang),
        tag_codes=tuple(code for code, _ in linked),
        tag_names=tuple(name for _, name in linked),
        tag_options=options,
        free_tags=get_settings().free_tags or actor.role in ("manager", "admin", "system"),
        lost_reason=lost_reason_text(session, actor=actor, customer_id=customer.id, lang=lang),
    )

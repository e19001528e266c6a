"""The call script per stage: the questions a rep asks, each landing in one structured field.

Stored as the managed list `call_script.<stage>` (code = the field the answer fills, the question per
language), so managers edit it like any list; the seed's questions stand in until they do.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, require
from funnel.core.errors import FieldError, ValidationError
from funnel.customers.lists import list_values, save_value

# The structured fields an answer may land in (those of the activity form).
SCRIPT_FIELDS = ("needs", "budget", "concerns", "next_step")
DEFAULT_SCRIPTS: dict[str, list[tuple[str, str, str]]] = {
    "lead": [
        ("needs", "What problem are you mainly trying to solve?", "您现在主要是想解决哪方面的问题?"),
        ("budget", "Roughly what budget range do you have in mind?", "预算大概在哪个区间?"),
        ("next_step", "Could we book a short online demo?", "方便安排一次线上产品演示吗?"),
    ],
    "contact": [
        ("needs", "What problem are you mainly trying to solve?", "您现在主要是想解决哪方面的问题?"),
        ("budget", "Roughly what budget range do you have in mind?", "预算大概在哪个区间?"),
        ("concerns", "Could the decision maker join us to learn more?", "决策人方便一起了解下吗?"),
        ("next_step", "When shall we talk again?", "我们什么时候再沟通?"),
    ],
    "qualify": [
        (
            "needs",
            "Which use case matters most, and for how many users?",
            "最重要的使用场景是什么?多少人使用?",
        ),
        ("budget", "Is the budget approved, and in which range?", "预算是否已批?大概在哪个区间?"),
        ("concerns", "Who else are you comparing, and what worries you?", "还在比较哪些厂商?最担心什么?"),
        ("next_step", "Could the decision maker join the demo?", "决策人方便一起参加演示吗?"),
    ],
    "proposal": [
        ("concerns", "What in the proposal needs changing?", "方案中有哪些地方需要调整?"),
        ("next_step", "When will you decide?", "预计什么时候做决定?"),
    ],
    "closing": [
        ("concerns", "What still stands between us and the contract?", "签约前还有哪些顾虑?"),
        ("next_step", "Who signs, and when?", "由谁签字?什么时候?"),
    ],
}


@dataclass(frozen=True)
class Question:
    field: str  # the structured field its answer fills
    text: str


def _list(stage: str) -> str:
    return f"call_script.{stage}"[:32]


def call_script(session: Session, stage: str, lang: str) -> list[Question]:
    """The questions for a stage in `lang`: the managers' version if they wrote one, else the seed's."""
    stored = list_values(session, _list(stage))
    if stored:
        return [Question(v.code, v.label(lang)) for v in stored]
    return [Question(f, zh if lang == "zh" else en) for f, en, zh in DEFAULT_SCRIPTS.get(stage, [])]


def save_question(
    session: Session, *, actor: Actor, stage: str, field: str, text_en: str, text_zh: str, active: bool = True
) -> None:
    """A manager writes (or with active=False removes) a stage's question for one field."""
    require(actor, "customer.assign")  # managers and admins keep the team's scripts
    if field not in SCRIPT_FIELDS:
        raise ValidationError([FieldError("field", "script.error.field", {"value": field})])
    if not list_values(session, _list(stage), include_inactive=True):
        for position, (f, en, zh) in enumerate(DEFAULT_SCRIPTS.get(stage, [])):
            save_value(session, _list(stage), code=f, name_en=en, name_zh=zh, sort_order=position)
    save_value(session, _list(stage), code=field, name_en=text_en, name_zh=text_zh, active=active)

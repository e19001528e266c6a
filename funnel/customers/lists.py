"""Managed lists: the values of channel, campaign, tag, region, industry, lost reason, competitor, ...

Each value has a stable `code` (what rows store and imports carry) and a name per UI language, so the
English screen says 'Trade show' where the Chinese one says 展会. Managers keep the lists; where the
settings allow free values, a value typed by a user joins its list unmanaged (`managed=False`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.core.errors import FieldError, ValidationError
from funnel.store.models import ListItem

CODE_MAX = 64
NAME_MAX = 100


@dataclass(frozen=True)
class ListValue:
    id: int
    list_name: str
    code: str
    name_en: str
    name_zh: str
    active: bool
    managed: bool

    def label(self, lang: str) -> str:
        return self.name_zh if lang == "zh" else self.name_en


def _value(row: ListItem) -> ListValue:
    return ListValue(row.id, row.list_name, row.code, row.name_en, row.name_zh, row.active, row.managed)


def list_values(session: Session, list_name: str, *, include_inactive: bool = False) -> list[ListValue]:
    """The values of one list in their order (then by code)."""
    query = select(ListItem).where(ListItem.list_name == list_name)
    if not include_inactive:
        query = query.where(ListItem.active.is_(True))
    return [_value(row) for row in session.scalars(query.order_by(ListItem.sort_order, ListItem.code))]


def labels(session: Session, list_name: str, lang: str) -> dict[str, str]:
    """code -> name in `lang`, for every value of the list (inactive ones too: old rows still show)."""
    return {value.code: value.label(lang) for value in list_values(session, list_name, include_inactive=True)}


def find_value(session: Session, list_name: str, text: str) -> ListValue | None:
    """The value whose code or either name is `text` (case-insensitive, trimmed), if any."""
    return match_value(list_values(session, list_name, include_inactive=True), text)


def match_value(values: Iterable[ListValue], text: str) -> ListValue | None:
    """find_value among values already read (a caller that looks up many names reads the list once)."""
    wanted = text.strip().casefold()
    for value in values:
        if wanted in {value.code.casefold(), value.name_en.casefold(), value.name_zh.casefold()}:
            return value
    return None


def save_value(
    session: Session,
    list_name: str,
    *,
    code: str,
    name_en: str = "",
    name_zh: str = "",
    sort_order: int | None = None,
    active: bool = True,
    managed: bool = True,
) -> ListValue:
    """Add a value, or update the one with that code; a missing name takes the other language's or the code.

    The caller checks the permission (managers keep managed lists) and commits.
    """
    code = " ".join(code.split())
    if not code:
        raise ValidationError([FieldError("code", "list.code_required")])
    if len(code) > CODE_MAX:
        raise ValidationError([FieldError("code", "list.code_too_long", {"max": str(CODE_MAX)})])
    name_en = " ".join(name_en.split()) or " ".join(name_zh.split()) or code
    name_zh = " ".join(name_zh.split()) or name_en
    for field, name in (("name_en", name_en), ("name_zh", name_zh)):
        if len(name) > NAME_MAX:
            raise ValidationError([FieldError(field, "list.name_too_long", {"max": str(NAME_MAX)})])
    row = session.scalar(select(ListItem).where(ListItem.list_name == list_name, ListItem.code == code))
    if row is None:
        if sort_order is None:
            sort_order = len(list_values(session, list_name, include_inactive=True))
        row = ListItem(list_name=list_name, code=code, managed=managed)
        session.add(row)
    row.name_en, row.name_zh, row.active = name_en, name_zh, active
    if sort_order is not None:
        row.sort_order = sort_order
    row.managed = row.managed or managed
    session.flush()
    return _value(row)

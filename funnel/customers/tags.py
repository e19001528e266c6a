"""Tags on customers: items of the managed `tag` list linked through customer_tag.

Managers keep the tag library (高意向, 教育行业, 大客户, 预算偏低, ...). Where the settings allow free tags
(CRM_FREE_TAGS, on by default), a name that matches no tag joins the list unmanaged; otherwise it is
refused. `customer.tags` stays as a display copy ("高意向, 大客户": the codes joined), written by
`set_tags` in the same transaction, so every reader of the old column keeps working; writers that still
store the string (lead form, import) are turned into links by `sync_tags_from_text` after the commit.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import cast

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Table, delete, exists, insert, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, require_customer
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction
from funnel.core.clock import utcnow
from funnel.core.errors import FieldError, ValidationError
from funnel.core.settings import get_settings
from funnel.customers.lists import CODE_MAX, ListValue, find_value, list_values, match_value, save_value
from funnel.customers.read import get_customer
from funnel.store.models import Customer, CustomerTag, ListItem

TAG_LIST = "tag"
TAGS_TEXT_MAX = 500
# What separated tags in the old free-text column: commas (either width), 、, semicolons, |.
_SEPARATORS = re.compile(r"[,，、;；|]")


def split_tags(text: str | None) -> list[str]:
    """The tag names in an old comma/、/;-separated string, trimmed, first occurrence kept."""
    seen: dict[str, None] = {}
    for part in _SEPARATORS.split(text or ""):
        name = " ".join(part.split())
        if name and name.casefold() not in {s.casefold() for s in seen}:
            seen[name] = None
    return list(seen)


def display_text(codes: Iterable[str]) -> str | None:
    """The denormalised `customer.tags` copy: the codes joined, within the column's length."""
    text = ", ".join(codes)
    return text[:TAGS_TEXT_MAX] or None


def same_tags(
    session: Session, text: str | None, stored: str | None, known: list[ListValue] | None = None
) -> bool:
    """Whether `text` (names or codes, any separator or order) names the tags of the display copy `stored`:
    an import of 'hot;expo' over a stored 'hot, expo' changes nothing.

    `known`: the tag list as a caller read it before (an import, row after row); a name not in it is
    looked up in the database (a tag an earlier row created) and added to it.
    """
    wanted = set()
    for name in split_tags(text):
        value = match_value(known, name) if known is not None else None
        if value is None:
            value = find_value(session, TAG_LIST, name)
            if value is not None and known is not None:
                known.append(value)
        wanted.add((value.code if value else name).casefold())
    return wanted == {code.casefold() for code in split_tags(stored)}


def resolve_tags(session: Session, names: Iterable[str], *, allow_free: bool) -> list[ListItem]:
    """The tag items for `names` (a code or either name); a new name becomes an unmanaged tag if allowed."""
    items: list[ListItem] = []
    errors: list[FieldError] = []
    for name in names:
        name = " ".join(name.split())
        if not name:
            continue
        value = find_value(session, TAG_LIST, name)
        if value is None:
            if not allow_free:
                errors.append(FieldError("tags", "tags.unknown", {"value": name}))
                continue
            if len(name) > CODE_MAX:
                errors.append(FieldError("tags", "tags.too_long", {"value": name, "max": str(CODE_MAX)}))
                continue
            value = save_value(session, TAG_LIST, code=name, managed=False)
        item = session.get(ListItem, value.id)
        assert item is not None
        if item not in items:
            items.append(item)
    if errors:
        raise ValidationError(errors)
    return items


def _link(session: Session, customer: Customer, items: list[ListItem]) -> tuple[str | None, str | None]:
    """Replace the customer's links with `items`; returns the old and new display text."""
    before = customer.tags
    session.execute(delete(CustomerTag).where(CustomerTag.customer_id == customer.id))
    if items:
        now = utcnow()
        session.execute(
            insert(CustomerTag), [dict(customer_id=customer.id, tag_id=i.id, created_at=now) for i in items]
        )
    customer.tags = display_text(item.code for item in items)
    return before, customer.tags


def set_tags(session: Session, *, actor: Actor, customer_id: int, names: Iterable[str]) -> list[str]:
    """Give a customer exactly these tags (codes or names); audited; returns the tag codes.

    A rep may add free tags only when the settings allow them (CRM_FREE_TAGS); managers and admins,
    who keep the library, may always (their new tag still joins the list unmanaged until edited).
    """
    customer = get_customer(session, actor=actor, customer_id=customer_id)
    require_customer(session, actor, customer, "customer.edit")
    allow_free = get_settings().free_tags or actor.role in ("manager", "admin", "system")
    items = resolve_tags(session, names, allow_free=allow_free)
    before, after = _link(session, customer, items)
    if before != after:
        changes = audit.diff({"tags": before}, {"tags": after})
        audit.record_customer(
            session, actor=actor, customer=customer, action=AuditAction.UPDATE, changes=changes
        )
        from funnel.core import events  # the scorer listens: a tag can carry points

        events.record(session, events.CustomerUpdated(customer.id, ("tags",)))
    session.flush()
    return [item.code for item in items]


def sync_tags_from_text(session: Session, customer_id: int) -> None:
    """Make the links match `customer.tags` as a writer of the old string left it (the lead form, an import).

    Runs after the commit as the system, so an unknown name follows the free-tags setting: kept as an
    unmanaged tag when allowed, dropped from the links (and the display copy) otherwise.
    """
    sync_tags_from_texts(session, [customer_id])


class TagNames:
    """Tag names as a writer of the old string gives them (the lead form, an import) resolved to the tag
    list: the list read once, each name once. An unknown name follows the free-tags setting: kept as an
    unmanaged tag when allowed, dropped (from the links and the display copy) otherwise."""

    def __init__(self, session: Session):
        self.session = session
        self.allow_free = get_settings().free_tags
        self.by_name: dict[str, ListValue] = {}
        # find_value's order: the first value in list order whose code or either name matches wins.
        for value in reversed(list_values(session, TAG_LIST, include_inactive=True)):
            for text in (value.name_zh, value.name_en, value.code):
                self.by_name[text.casefold()] = value

    def resolve(self, text: str | None) -> list[ListValue]:
        """The values `text` names, each once, in the order written."""
        items: list[ListValue] = []
        for name in split_tags(text):
            found = self.by_name.get(name.casefold())
            if found is None:
                if not self.allow_free or len(name) > CODE_MAX:
                    continue  # refused as resolve_tags refuses it
                found = save_value(self.session, TAG_LIST, code=name, managed=False)
                self.by_name[name.casefold()] = found
            if found not in items:
                items.append(found)
        return items


def sync_tags_from_texts(session: Session, customer_ids: Sequence[int]) -> int:
    """The bulk form of `sync_tags_from_text` (an import's batch): the tag list read once, each name
    resolved once, links replaced and display copies written a few statements per 5,000 customers.

    Returns how many customers' links or display copy changed.
    """
    names = TagNames(session)
    changed = 0
    ids = list(dict.fromkeys(customer_ids))
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        texts = dict(session.execute(select(Customer.id, Customer.tags).where(Customer.id.in_(chunk))).all())
        current: dict[int, set[int]] = defaultdict(set)
        links = select(CustomerTag.customer_id, CustomerTag.tag_id).where(CustomerTag.customer_id.in_(chunk))
        for customer_id, tag_id in session.execute(links):
            current[customer_id].add(tag_id)
        wanted: dict[int, list[ListValue]] = {}
        for customer_id, tags_text in texts.items():
            items = names.resolve(tags_text)
            if {i.id for i in items} != current[customer_id] or display_text(
                i.code for i in items
            ) != tags_text:
                wanted[customer_id] = items
        if not wanted:
            continue
        changed += len(wanted)
        session.execute(delete(CustomerTag).where(CustomerTag.customer_id.in_(list(wanted))))
        now = utcnow()
        rows = [
            dict(customer_id=customer_id, tag_id=item.id, created_at=now)
            for customer_id, items in wanted.items()
            for item in items
        ]
        if rows:
            session.execute(insert(CustomerTag), rows)
        # The display copy is written with Core: it is the same data, not a user's edit (no new version).
        table = cast(Table, Customer.__table__)
        session.execute(
            sa.update(table).where(table.c.id == sa.bindparam("b_id")).values(tags=sa.bindparam("b_tags")),
            [
                {"b_id": customer_id, "b_tags": display_text(i.code for i in items)}
                for customer_id, items in wanted.items()
            ],
        )
    return changed


def tags_of(session: Session, customer_ids: Iterable[int], lang: str) -> dict[int, list[str]]:
    """customer id -> its tags' names in `lang`, in the list's order (customers without tags are absent)."""
    ids = list(customer_ids)
    result: dict[int, list[str]] = defaultdict(list)
    if not ids:
        return {}
    name = ListItem.name_zh if lang == "zh" else ListItem.name_en
    for start in range(0, len(ids), 5000):
        rows = session.execute(
            select(CustomerTag.customer_id, name)
            .join(ListItem, ListItem.id == CustomerTag.tag_id)
            .where(CustomerTag.customer_id.in_(ids[start : start + 5000]))
            .order_by(CustomerTag.customer_id, ListItem.sort_order, ListItem.code)
        )
        for customer_id, label in rows:
            result[customer_id].append(label)
    return dict(result)


def tag_choices(session: Session, lang: str) -> dict[str, str]:
    """code -> name in `lang` of the active tags, for a filter's or a form's options."""
    return {value.code: value.label(lang) for value in list_values(session, TAG_LIST)}


def has_any_tag(tag_codes: Iterable[str]) -> ColumnElement[bool]:
    """A WHERE condition on Customer: it carries at least one of these tags (EXISTS on customer_tag)."""
    codes = list(tag_codes)
    return exists().where(
        CustomerTag.customer_id == Customer.id,
        CustomerTag.tag_id == ListItem.id,
        ListItem.list_name == TAG_LIST,
        ListItem.code.in_(codes),
    )


_CUSTOMER = sa.table("customer", sa.column("id", sa.Integer), sa.column("tags", sa.String))
_LIST_ITEM = sa.table(
    "list_item",
    sa.column("id", sa.Integer),
    sa.column("list_name", sa.String),
    sa.column("code", sa.String),
    sa.column("name_en", sa.String),
    sa.column("name_zh", sa.String),
    sa.column("sort_order", sa.Integer),
    sa.column("active", sa.Boolean),
    sa.column("managed", sa.Boolean),
    sa.column("created_at", sa.DateTime),
)
_CUSTOMER_TAG = sa.table(
    "customer_tag",
    sa.column("customer_id", sa.Integer),
    sa.column("tag_id", sa.Integer),
    sa.column("created_at"),
)


def migrate_tag_strings(session: Session) -> int:
    """Split every `customer.tags` string into tag items (unmanaged when new) and links; returns links made.

    Core on bare tables (migration 0012 calls it); idempotent: a link that exists is not made again.
    """
    now = utcnow()
    items: dict[str, int] = {}
    for item_id, code, en, zh in session.execute(
        sa.select(_LIST_ITEM.c.id, _LIST_ITEM.c.code, _LIST_ITEM.c.name_en, _LIST_ITEM.c.name_zh).where(
            _LIST_ITEM.c.list_name == TAG_LIST
        )
    ):
        for name in (zh, en, code):  # the code wins over a name that equals another tag's code
            items[name.casefold()] = item_id
    linked = {
        (c, t) for c, t in session.execute(sa.select(_CUSTOMER_TAG.c.customer_id, _CUSTOMER_TAG.c.tag_id))
    }
    links: list[dict[str, object]] = []
    order = len(items)
    rows = session.execute(sa.select(_CUSTOMER.c.id, _CUSTOMER.c.tags).where(_CUSTOMER.c.tags.is_not(None)))
    for customer_id, text in rows.all():
        for name in split_tags(text):
            name = name[:CODE_MAX]
            item_id = items.get(name.casefold())
            if item_id is None:
                order += 1
                item_id = session.execute(
                    sa.insert(_LIST_ITEM).returning(_LIST_ITEM.c.id),
                    dict(list_name=TAG_LIST, code=name, name_en=name, name_zh=name, sort_order=order,
                         active=True, managed=False, created_at=now),
                ).scalar_one()  # fmt: skip
                items[name.casefold()] = item_id
            if (customer_id, item_id) not in linked:
                linked.add((customer_id, item_id))
                links.append(dict(customer_id=customer_id, tag_id=item_id, created_at=now))
    for start in range(0, len(links), 5000):
        session.execute(sa.insert(_CUSTOMER_TAG), links[start : start + 5000])
    return len(links)

"""The leads search: what a search text matches, answered from indexes at a million customers.

A text is looked up exactly first (a customer number, an e-mail, a phone number typed with or without
spaces): unique and plain indexes, one probe each. Without an exact hit it matches as a substring
("contains") of a customer's name, company or number, a contact's phone, e-mail or WeChat, or names a tag.
A substring needs a trigram index: on SQLite the FTS5 tables `customer_search` / `contact_search`
(migration 0025, kept by triggers in the writing transaction), on PostgreSQL pg_trgm GIN indexes. The
index only narrows the rows; the LIKE conditions decide, so the answer is the plain LIKE search's.
A text of one or two characters has no trigram: it is read the plain way (every row, ~1 s at a million).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, func, literal_column, or_, select, text, union
from sqlalchemy.orm import Session

from funnel.store.models import Contact, Customer, CustomerTag, ListItem

# What the trigram indexes cover (migration 0025): table -> (SQLite FTS5 table, columns).
SEARCHED: dict[str, tuple[str, tuple[str, ...]]] = {
    "customer": ("customer_search", ("name", "company", "customer_no")),
    "contact": ("contact_search", ("phone", "email", "wechat")),
}
FTS5_SHADOW_TABLES = ("data", "idx", "content", "docsize", "config")  # what FTS5 stores an index in
# Schema objects the migration makes per backend, outside the models (the schema test skips them).
SEARCH_OBJECTS = frozenset(
    {fts for fts, _ in SEARCHED.values()}
    | {
        f"{fts}_{part}"
        for fts, _ in SEARCHED.values()
        for part in ("data", "idx", "content", "docsize", "config")
    }
    | {f"ix_{table}_{column}_trgm" for table, (_, columns) in SEARCHED.items() for column in columns}
    | {"ix_customer_score_rank", "ix_customer_win_probability_rank"}
)
TRIGRAM = 3  # a trigram index finds substrings of at least this many characters
# Up to this many matching customers are handed to the list query by id (it then reads them by primary
# key, whatever the sort); more, and it reads them through the subquery.
MAX_LISTED_IDS = 2000
PHONE_CHARACTERS = frozenset("0123456789 -+()")


@dataclass(frozen=True)
class SearchText:
    """A search text and what it looks like."""

    text: str
    digits: str  # the digits in it

    @classmethod
    def of(cls, text: str) -> SearchText:
        return cls(text, "".join(ch for ch in text if ch.isdigit()))

    @property
    def phone(self) -> str | None:
        """The digits of a text typed as a whole phone number ("138 1234 5678"), else None."""
        return self.digits if len(self.digits) >= 5 and set(self.text) <= PHONE_CHARACTERS else None

    @property
    def phone_digits(self) -> str | None:
        """The digits to find inside stored phones (stored as digits) for a text typed like part of one."""
        return self.digits if len(self.digits) >= 3 and set(self.text) <= PHONE_CHARACTERS else None


def escape_like(value: str) -> str:
    """`%` and `_` typed in a search match themselves, not "anything"."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def exact_ids(session: Session, query: SearchText) -> list[int]:
    """Customers whose number, or a contact's e-mail or whole phone number, is the text: indexed probes."""
    parts: list[Select[int]] = [
        select(Customer.id).where(Customer.customer_no.in_(sorted({query.text, query.text.upper()}))),
        select(Contact.customer_id).where(Contact.email == query.text.lower()),
    ]
    if query.phone:
        parts.append(select(Contact.customer_id).where(Contact.phone.in_([query.phone, f"+{query.phone}"])))
    return sorted(set(session.scalars(union(*parts))))


def tag_match(value: str) -> Select[int]:
    """Customers carrying a tag whose code or name (either language) is `value` (whole, any case)."""
    folded = value.lower()
    return (
        select(CustomerTag.customer_id)
        .join(ListItem, ListItem.id == CustomerTag.tag_id)
        .where(
            ListItem.list_name == "tag",
            or_(
                func.lower(ListItem.code) == folded,
                func.lower(ListItem.name_en) == folded,
                ListItem.name_zh == value,
            ),
        )
    )


def _customer_like(like: str) -> ColumnElement[bool]:
    return or_(
        Customer.name.ilike(like, escape="\\"),
        Customer.company.ilike(like, escape="\\"),
        Customer.customer_no.ilike(like, escape="\\"),
    )


def _contact_like(query: SearchText, like: str) -> ColumnElement[bool]:
    # Phones are stored as digits; a rep types them with spaces or dashes ("138 1234 5678").
    phone_like = f"%{query.phone_digits}%" if query.phone_digits else like
    return or_(
        Contact.phone.like(like, escape="\\"),
        Contact.phone.like(phone_like, escape="\\"),
        Contact.email.ilike(like, escape="\\"),
        Contact.wechat.ilike(like, escape="\\"),
    )


def _fts_rows(table: str, columns: Sequence[str], phrases: Sequence[str]) -> Select[int]:
    """Row ids of an FTS5 table holding any of `phrases` (as substrings, any case) in one of `columns`."""
    fts, _ = SEARCHED[table]
    quoted = ['"' + phrase.replace('"', '""') + '"' for phrase in phrases]
    match = " OR ".join(f"{{{' '.join(columns)}}} : {phrase}" for phrase in quoted)
    condition = text(f"{fts} MATCH :match_{table}").bindparams(**{f"match_{table}": match})
    return select(literal_column("rowid")).select_from(text(fts)).where(condition)


def contains_ids(session: Session, query: SearchText) -> Select[int]:
    """The customers the text is a substring of (name, company, number, a contact's phone, e-mail, WeChat)
    or whose tag it names: a union of indexed reads, each checked by the LIKE it stands for."""
    like = f"%{escape_like(query.text)}%"
    by_customer = select(Customer.id).where(_customer_like(like))
    by_contact = select(Contact.customer_id).where(_contact_like(query, like))
    if session.get_bind().dialect.name == "sqlite":
        # The FTS5 tables hold the trigrams; the LIKE above then checks each row they name.
        by_customer = by_customer.where(
            Customer.id.in_(_fts_rows("customer", SEARCHED["customer"][1], [query.text]))
        )
        found = _fts_rows("contact", SEARCHED["contact"][1], [query.text])
        if query.phone_digits:
            found = union(found, _fts_rows("contact", ["phone"], [query.phone_digits]))  # type: ignore[assignment]
        by_contact = by_contact.where(Contact.id.in_(found))
    return union(by_customer, by_contact, tag_match(query.text))  # type: ignore[return-value]


def plain_contains(query: SearchText) -> ColumnElement[bool]:
    """The substring match read row by row: for a text too short for a trigram."""
    like = f"%{escape_like(query.text)}%"
    contact = select(Contact.customer_id).where(_contact_like(query, like))
    return or_(_customer_like(like), Customer.id.in_(contact), Customer.id.in_(tag_match(query.text)))


def search_condition(session: Session, scope: Sequence[ColumnElement[bool]], raw: str) -> ColumnElement[bool]:
    """The leads list's condition for a (cleaned) search text within the conditions `scope`.

    An exact hit inside `scope` wins alone; otherwise the substring match. Matches found by index are
    listed by id when few, so the list reads them by primary key whatever its sort order.
    """
    query = SearchText.of(raw)
    exact = exact_ids(session, query)
    if exact:
        by_id = Customer.id.in_(exact)
        if session.execute(select(Customer.id).where(*scope, by_id).limit(1)).first() is not None:
            return by_id
    if len(query.text) < TRIGRAM:
        return plain_contains(query)
    matches = contains_ids(session, query)
    found = list(session.scalars(matches.limit(MAX_LISTED_IDS + 1)))
    if len(found) <= MAX_LISTED_IDS:
        return Customer.id.in_(found)
    return Customer.id.in_(matches)


# --- keeping the SQLite index honest (`python -m funnel check`) ----------------------------------------

TRIGGER_KINDS = ("insert", "delete", "update")


def _trigger_ddl(table: str) -> list[str]:
    """The triggers that write a table's FTS5 rows in the writing transaction (as migration 0025 does)."""
    fts, columns = SEARCHED[table]
    names = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    insert = f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new});"
    delete = f"DELETE FROM {fts} WHERE rowid = old.id;"
    body = {"insert": insert, "delete": delete, "update": f"{delete} {insert}"}
    event = {"insert": "INSERT", "delete": "DELETE", "update": f"UPDATE OF id, {names}"}
    return [
        f"CREATE TRIGGER IF NOT EXISTS {fts}_{kind} AFTER {event[kind]} ON {table} BEGIN {body[kind]} END"
        for kind in TRIGGER_KINDS
    ]


@dataclass(frozen=True)
class IndexProblem:
    """How a search index differs from its table: rows missing, stale or orphaned, or a missing trigger."""

    table: str
    problem: str


def search_index_problems(session: Session) -> list[IndexProblem]:
    """Every way the search's FTS5 tables differ from `customer` and `contact` (SQLite; [] elsewhere)."""
    if session.get_bind().dialect.name != "sqlite":
        return []
    triggers = set(session.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
    problems: list[IndexProblem] = []
    for table, (fts, columns) in SEARCHED.items():
        problems += [
            IndexProblem(table, f"trigger {fts}_{kind} is missing (writes no longer reach the index)")
            for kind in TRIGGER_KINDS
            if f"{fts}_{kind}" not in triggers
        ]
        differs = " OR ".join(f"s.{c} IS NOT t.{c}" for c in columns)
        stale = session.scalar(
            text(
                f"SELECT count(*) FROM {table} t LEFT JOIN {fts} s ON s.rowid = t.id"
                f" WHERE s.rowid IS NULL OR {differs}"
            )
        )
        orphans = session.scalar(
            text(
                f"SELECT count(*) FROM {fts} s"
                f" WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.id = s.rowid)"
            )
        )
        if stale:
            problems.append(IndexProblem(table, f"{stale:,} rows missing from {fts} or different there"))
        if orphans:
            problems.append(IndexProblem(table, f"{orphans:,} rows of {fts} name no {table}"))
        try:  # the trigram index against the FTS table's own copy of the text
            with session.begin_nested():
                session.execute(text(f"INSERT INTO {fts}({fts}) VALUES ('integrity-check')"))
        except Exception as exc:  # SQLITE_CORRUPT_VTAB: the index does not match its rows
            problems.append(IndexProblem(table, f"{fts} fails its integrity check: {exc.__class__.__name__}"))
    return problems


def rebuild_search_index(session: Session) -> None:
    """Write the FTS5 tables afresh from `customer` and `contact` and make sure their triggers exist."""
    if session.get_bind().dialect.name != "sqlite":
        return
    for table, (fts, columns) in SEARCHED.items():
        names = ", ".join(columns)
        session.execute(text(f"DELETE FROM {fts}"))
        session.execute(text(f"INSERT INTO {fts}(rowid, {names}) SELECT id, {names} FROM {table}"))
        for ddl in _trigger_ddl(table):
            session.execute(text(ddl))

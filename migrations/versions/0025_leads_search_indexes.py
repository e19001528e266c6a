"""leads search: trigram indexes for "contains" (SQLite FTS5 tables kept by triggers, PostgreSQL pg_trgm) and
PostgreSQL indexes for the score / win-probability sorts (DESC NULLS LAST, which the plain ones cannot serve);
customer_share by user (a rep's scope)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05

SQLite: `customer_search` (name, company, customer_no) and `contact_search` (phone, email, wechat) are FTS5
tables with the trigram tokenizer, row id = the customer's / contact's id, written by triggers in the same
transaction as the row. A later migration that rebuilds `customer` or `contact` in batch mode drops their
triggers with the old table: it must create them again (`python -m funnel check` reports a stale index).

PostgreSQL: GIN trigram indexes on the same columns. pg_trgm is created if it is missing and the role may;
if it cannot be, the indexes are left out with a warning and a search reads every row (slow, still right).
"""

from __future__ import annotations

import logging

from alembic import op
from sqlalchemy import text

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# table -> (FTS table, searched columns); keep in step with funnel/customers/search.py.
SEARCHED = {
    "customer": ("customer_search", ("name", "company", "customer_no")),
    "contact": ("contact_search", ("phone", "email", "wechat")),
}
TRIGRAM_INDEXES = {
    f"ix_{table}_{column}_trgm": (table, column) for table, (_, cols) in SEARCHED.items() for column in cols
}
RANK_INDEXES = {
    "ix_customer_score_rank": "customer (score DESC NULLS LAST, id DESC)",
    "ix_customer_win_probability_rank": "customer (win_probability DESC NULLS LAST, id DESC)",
}


def _sqlite_triggers(table: str, fts: str, columns: tuple[str, ...]) -> list[str]:
    names = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    insert = f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new});"
    delete = f"DELETE FROM {fts} WHERE rowid = old.id;"
    return [
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN {insert} END",
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN {delete} END",
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF id, {names} ON {table} BEGIN {delete} {insert} END",
    ]


def _trigram_schema() -> str | None:
    """The schema holding pg_trgm, created if missing and allowed; None if it cannot be had."""
    conn = op.get_bind()
    found = conn.execute(
        text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'")
    ).scalar()
    if found is None:
        savepoint = conn.begin_nested()
        try:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        except Exception as exc:  # no such extension on the server, or the role may not create it
            savepoint.rollback()
            log.warning(
                "pg_trgm could not be created (%s); the leads search works without its trigram "
                "indexes but reads every row for a 'contains' search. A superuser can run "
                "CREATE EXTENSION pg_trgm and then: python -m funnel check",
                str(exc).splitlines()[0],
            )
            return None
        savepoint.commit()
        found = conn.execute(
            text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'")
        ).scalar()
    return str(found)


def upgrade() -> None:
    # A rep's scope ("mine or shared with me") reads the shares by user.
    op.create_index("ix_customer_share_user", "customer_share", ["user_id", "customer_id"])
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table, (fts, columns) in SEARCHED.items():
            names = ", ".join(columns)
            op.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, tokenize='trigram')")
            op.execute(f"INSERT INTO {fts}(rowid, {names}) SELECT id, {names} FROM {table}")
            for ddl in _sqlite_triggers(table, fts, columns):
                op.execute(ddl)
    elif dialect == "postgresql":
        for name, ddl in RANK_INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON {ddl}")
        schema = _trigram_schema()
        if schema is not None:
            for name, (table, column) in TRIGRAM_INDEXES.items():
                op.execute(f'CREATE INDEX {name} ON {table} USING gin ({column} "{schema}".gin_trgm_ops)')


def downgrade() -> None:
    op.drop_index("ix_customer_share_user", table_name="customer_share")
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for _table, (fts, _columns) in SEARCHED.items():
            for suffix in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {fts}")
    elif dialect == "postgresql":
        for name in (*TRIGRAM_INDEXES, *RANK_INDEXES):
            op.execute(f"DROP INDEX IF EXISTS {name}")

"""constraint names: every primary key, unique constraint and foreign key named by the convention

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 10:00:00.000000

Before this revision the constraints had no names (SQLite) or the names PostgreSQL invents
(`user_pkey`, `user_username_key`, `customer_owner_id_fkey`); a later migration could not drop or alter
one by name on both backends. PostgreSQL renames in place; SQLite cannot rename a constraint, so each
table is rebuilt (batch mode) with the convention's names, its rows copied across. env.py turns SQLite's
foreign keys off around migrations, so dropping the old `customer` does not cascade into its children.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# funnel/store/models.py NAMING_CONVENTION as of this revision, frozen here so that a later change to
# the models cannot change what this migration does.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Every table as of revision 0003, parents before children.
TABLES = (
    "user", "audit_log", "customer", "customer_share", "activity", "contact", "document", "notification",
    "objection", "opportunity", "stage_event", "survey", "task", "contract", "payment",
)

# (primary key, unique constraint, foreign key) names from a table, its first column and referred table.
Namer = tuple[Callable[[str], str], Callable[[str, str], str], Callable[[str, str, str], str]]

CONVENTION: Namer = (
    lambda table: f"pk_{table}",
    lambda table, column: f"uq_{table}_{column}",
    lambda table, column, referred: f"fk_{table}_{column}_{referred}",
)
POSTGRESQL_DEFAULTS: Namer = (
    lambda table: f"{table}_pkey",
    lambda table, column: f"{table}_{column}_key",
    lambda table, column, referred: f"{table}_{column}_fkey",
)


def _renames(inspector: sa.Inspector, table: str, namer: Namer) -> dict[str, str]:
    """Current name -> wanted name of each constraint of `table` whose name is not the wanted one."""
    pk_name, uq_name, fk_name = namer
    wanted: dict[str, str] = {}
    pk = inspector.get_pk_constraint(table)
    if pk.get("name"):
        wanted[pk["name"]] = pk_name(table)
    for uq in inspector.get_unique_constraints(table):
        wanted[uq["name"]] = uq_name(table, uq["column_names"][0])
    for fk in inspector.get_foreign_keys(table):
        wanted[fk["name"]] = fk_name(table, fk["constrained_columns"][0], fk["referred_table"])
    return {old: new for old, new in wanted.items() if old and old != new}


def _rename_on_postgresql(namer: Namer) -> None:
    bind = op.get_bind()
    quote = bind.dialect.identifier_preparer.quote
    inspector = sa.inspect(bind)
    for table in TABLES:
        for old, new in _renames(inspector, table, namer).items():
            op.execute(f"ALTER TABLE {quote(table)} RENAME CONSTRAINT {quote(old)} TO {quote(new)}")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
            raise RuntimeError("SQLite foreign keys must be off: rebuilding `customer` would delete its children")
        for table in TABLES:
            # Rebuilt from its reflection, where the convention names each nameless constraint.
            with op.batch_alter_table(table, recreate="always", naming_convention=NAMING_CONVENTION):
                pass
        return
    _rename_on_postgresql(CONVENTION)


def downgrade() -> None:
    # On SQLite the names are harmless to revision 0003, which never refers to a constraint by name.
    if op.get_bind().dialect.name != "sqlite":
        _rename_on_postgresql(POSTGRESQL_DEFAULTS)

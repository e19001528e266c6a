"""customer: covering indexes for the dashboard's won figures, its lost tile and its qualification panel,
and the customer's filter columns by id for the reports that join child rows to customers, so that at a
million customers they read an index instead of every row

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06

Plain CREATE INDEX (no batch rebuild of `customer`: that would drop the leads-search triggers of 0025).
On SQLite a database that has planner statistics gets them for the new indexes too: without, SQLite
guessed the lost index's selectivity and the loss details at a million customers took 4.1 s, not 0.2 s.
"""

from __future__ import annotations

from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

HAS_STATISTICS = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
INDEXES = {
    "ix_customer_won": ["status", "won_at", "created_at", "channel", "signed_amount", "opportunity_amount"],
    "ix_customer_lost_at": ["status", "lost_at"],
    "ix_customer_qualification": ["status", "budget_range", "competitors"],
    "ix_customer_join": ["id", "status", "stage", "channel", "created_at", "owner_id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "customer", columns)
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.exec_driver_sql(HAS_STATISTICS).first():
        bind.exec_driver_sql("PRAGMA analysis_limit = 1000")  # sampled, as funnel.store.bulk does
        bind.exec_driver_sql("ANALYZE customer")


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="customer")

"""activities and qualification: call direction, duration and sync key; budget amount, decision process

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("activity") as batch:
        batch.add_column(sa.Column("direction", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("duration_s", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("source", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("sync_key", sa.String(length=200), nullable=True))
        batch.create_unique_constraint("uq_activity_sync_key", ["sync_key"])
    with op.batch_alter_table("customer") as batch:
        batch.add_column(sa.Column("budget_amount", sa.Numeric(14, 2), nullable=True))
        batch.add_column(sa.Column("decision_process", sa.Text(), nullable=True))
        batch.add_column(sa.Column("graded_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        batch.drop_column("graded_at")
        batch.drop_column("decision_process")
        batch.drop_column("budget_amount")
    with op.batch_alter_table("activity") as batch:
        batch.drop_constraint("uq_activity_sync_key", type_="unique")
        batch.drop_column("sync_key")
        batch.drop_column("source")
        batch.drop_column("duration_s")
        batch.drop_column("direction")

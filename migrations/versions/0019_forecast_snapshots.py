"""forecast snapshots: the week's forecast as first taken, one per ISO week

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forecast_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("weighted", sa.Numeric(14, 2), nullable=False),
        sa.Column("pipeline", sa.Numeric(14, 2), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_forecast_snapshot"),
        sa.UniqueConstraint("week", name="uq_forecast_snapshot_week"),
    )


def downgrade() -> None:
    op.drop_table("forecast_snapshot")

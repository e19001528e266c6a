"""leads list and board: indexes on customer.score and win_probability (sorted pages), and the board's counts

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        batch.create_index("ix_customer_score", ["score"])
        batch.create_index("ix_customer_win_probability", ["win_probability"])
        batch.create_index("ix_customer_board", ["status", "stage", "owner_id", "grade", "team"])


def downgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        batch.drop_index("ix_customer_board")
        batch.drop_index("ix_customer_win_probability")
        batch.drop_index("ix_customer_score")

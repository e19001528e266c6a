"""notification params: a notification stores its kind and parameters, rendered in the reader's language

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        batch.add_column(sa.Column("params", sa.JSON(), nullable=True))
        batch.create_index("ix_notification_user_unread", ["user_id", "read_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        batch.drop_index("ix_notification_user_unread")
        batch.drop_column("params")

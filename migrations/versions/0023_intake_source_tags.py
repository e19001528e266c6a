"""intake_source.tags: the tags every lead from a form or API source gets

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intake_source") as batch:
        batch.add_column(sa.Column("tags", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("intake_source") as batch:
        batch.drop_column("tags")

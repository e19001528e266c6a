"""contact roles: each contact's role in the decision and a row version for optimistic locking

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contact") as batch:
        batch.add_column(sa.Column("role", sa.String(length=16), nullable=False, server_default="other"))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    # Contacts stored before roles: a decision maker keeps that role.
    op.execute("UPDATE contact SET role = 'decision_maker' WHERE is_decision_maker")


def downgrade() -> None:
    with op.batch_alter_table("contact") as batch:
        batch.drop_column("version")
        batch.drop_column("role")

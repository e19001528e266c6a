"""customer team: the team whose intake a customer belongs to

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

A team's manager sees the team's customers and only the team's unowned leads (before, every unowned
lead company-wide). Existing customers take their owner's team; an unowned one stays without a team,
visible to managers without a team, leadership and admins until someone routes it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        batch.add_column(sa.Column("team", sa.String(length=64), nullable=True))
        batch.create_index("ix_customer_team", ["team"], unique=False)
    op.execute(
        'UPDATE customer SET team = (SELECT "user".team FROM "user" WHERE "user".id = customer.owner_id) '
        "WHERE owner_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        batch.drop_index("ix_customer_team")
        batch.drop_column("team")

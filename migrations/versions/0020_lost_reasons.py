"""lost and reopen reasons: the lost reason's note, and the reopen reason, budget band and competitor lists

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        batch.add_column(sa.Column("lost_note", sa.String(length=500), nullable=True))
    # The lists this revision adds (reopen_reason, budget_band, competitor), with the app's own seeding
    # code (idempotent: a value already there, or edited by a manager, is left alone).
    from sqlalchemy.orm import Session

    from funnel.customers.lists_seed import seed_lists

    session = Session(bind=op.get_bind())
    seed_lists(session)
    session.flush()


def downgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        batch.drop_column("lost_note")

"""intake sources: a channel's public form and API token; the leads that came through each

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("campaign", sa.String(length=64), nullable=True),
        sa.Column("slug", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"], name="fk_intake_source_created_by_user"),
        sa.PrimaryKeyConstraint("id", name="pk_intake_source"),
        sa.UniqueConstraint("slug", name="uq_intake_source_slug"),
        sa.UniqueConstraint("token_hash", name="uq_intake_source_token_hash"),
    )
    op.create_index("ix_intake_source_channel", "intake_source", ["channel"], unique=False)
    op.create_table(
        "intake_lead",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name="fk_intake_lead_customer_id_customer", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["source_id"], ["intake_source.id"], name="fk_intake_lead_source_id_intake_source"),
        sa.PrimaryKeyConstraint("customer_id", name="pk_intake_lead"),
    )
    op.create_index("ix_intake_lead_source_id", "intake_lead", ["source_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_intake_lead_source_id", table_name="intake_lead")
    op.drop_table("intake_lead")
    op.drop_index("ix_intake_source_channel", table_name="intake_source")
    op.drop_table("intake_source")

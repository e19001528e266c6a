"""managed lists and campaign: bilingual list values, tags as links, the lead's campaign

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "list_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_name", sa.String(length=32), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("managed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_list_item"),
        sa.UniqueConstraint("list_name", "code", name="uq_list_item_list_name_code"),
    )
    op.create_table(
        "customer_tag",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name="fk_customer_tag_customer_id_customer", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"], ["list_item.id"], name="fk_customer_tag_tag_id_list_item", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("customer_id", "tag_id", name="pk_customer_tag"),
    )
    op.create_index("ix_customer_tag_tag_id", "customer_tag", ["tag_id", "customer_id"], unique=False)
    with op.batch_alter_table("customer") as batch:
        batch.add_column(sa.Column("campaign", sa.String(length=64), nullable=True))
        batch.create_index("ix_customer_campaign", ["campaign"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        batch.drop_index("ix_customer_campaign")
        batch.drop_column("campaign")
    op.drop_index("ix_customer_tag_tag_id", table_name="customer_tag")
    op.drop_table("customer_tag")
    op.drop_table("list_item")

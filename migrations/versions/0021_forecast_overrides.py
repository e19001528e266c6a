"""forecast overrides: a rep's or manager's forecast category for a deal, kept as a history

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forecast_override",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("set_by", sa.Integer(), nullable=True),
        sa.Column("set_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name="fk_forecast_override_customer_id_customer",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["set_by"], ["user.id"], name="fk_forecast_override_set_by_user"),
        sa.PrimaryKeyConstraint("id", name="pk_forecast_override"),
    )
    op.create_index("ix_forecast_override_customer_set", "forecast_override", ["customer_id", "set_at"])


def downgrade() -> None:
    op.drop_index("ix_forecast_override_customer_set", table_name="forecast_override")
    op.drop_table("forecast_override")

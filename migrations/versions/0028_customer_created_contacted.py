"""customer: the creation-time index also carries the first contact, so the speed-to-lead tile (how many
leads created in the period were contacted, and the middle one of their hours to first contact) reads the
index alone

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05

The old index is a prefix of the new one: every query that used it uses the new one. Plain CREATE / DROP
INDEX (no batch rebuild of `customer`: that would drop the leads-search triggers of 0025).
"""

from __future__ import annotations

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_customer_created_contacted", "customer", ["created_at", "first_contacted_at"])
    op.drop_index("ix_customer_created_at", table_name="customer")


def downgrade() -> None:
    op.create_index("ix_customer_created_at", "customer", ["created_at"])
    op.drop_index("ix_customer_created_contacted", table_name="customer")

"""customer.opportunity_amount and customer.signed_amount: the sums of a customer's opportunities and of
its signed contracts, stored, so that the reports' won amounts and the board's and leads list's deal
amounts read a column instead of two correlated sums per customer

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06

Plain ALTER TABLE (no batch rebuild of `customer`: that would drop the leads-search triggers of 0025).
The columns are kept by funnel.store.deal_amounts with every opportunity or contract written; the
backfill here is the same recount `python -m funnel check` compares them with.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

BACKFILL = """
UPDATE customer SET
    opportunity_amount = (SELECT sum(amount) FROM opportunity WHERE opportunity.customer_id = customer.id),
    signed_amount = (
        SELECT sum(amount) FROM contract WHERE contract.customer_id = customer.id AND contract.status = 'signed'
    )
"""


def upgrade() -> None:
    op.add_column("customer", sa.Column("opportunity_amount", sa.Numeric(14, 2), nullable=True))
    op.add_column("customer", sa.Column("signed_amount", sa.Numeric(14, 2), nullable=True))
    op.execute(BACKFILL)


def downgrade() -> None:
    op.drop_column("customer", "signed_amount")
    op.drop_column("customer", "opportunity_amount")

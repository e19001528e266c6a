"""customer.last_active_at: when the customer's latest activity or stage change happened, indexed, so that
"active in the period" (the filter bar's activity basis) is an index range instead of a set built from
every activity and stage event in the period

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05

Plain ALTER TABLE (no batch rebuild of `customer`: that would drop the leads-search triggers of 0025).
The column is kept by funnel.store.last_active with every new activity or stage event; the backfill here
is the same recount `python -m funnel check` compares it with.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

# The later of the latest activity and the latest stage event (funnel.store.last_active.latest_at).
BACKFILL = """
UPDATE customer SET last_active_at = (
    SELECT CASE WHEN a.at IS NULL THEN e.at WHEN e.at IS NULL OR a.at > e.at THEN a.at ELSE e.at END
    FROM (SELECT max(at) AS at FROM activity WHERE activity.customer_id = customer.id) AS a,
         (SELECT max(at) AS at FROM stage_event WHERE stage_event.customer_id = customer.id) AS e
)
"""


def upgrade() -> None:
    op.add_column("customer", sa.Column("last_active_at", sa.DateTime(), nullable=True))
    op.execute(BACKFILL)
    op.create_index("ix_customer_last_active", "customer", ["last_active_at"])


def downgrade() -> None:
    op.drop_index("ix_customer_last_active", table_name="customer")
    op.drop_column("customer", "last_active_at")

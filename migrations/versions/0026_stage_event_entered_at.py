"""stage_event: the (customer, stage) index also carries the time, so "stuck longest at a stage" is index-only

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The dashboard's loss point reads each open customer's last move into the stage (rollups.stuck_at):
    # with `at` in the index that is one index probe per customer instead of a row read per event
    # (0.22 s -> 0.03 s CPU at 100,000 customers on SQLite). The old index is a prefix of the new one.
    with op.batch_alter_table("stage_event") as batch:
        batch.create_index("ix_stage_event_customer_stage_at", ["customer_id", "to_stage", "at"])
        batch.drop_index("ix_stage_event_customer_stage")


def downgrade() -> None:
    with op.batch_alter_table("stage_event") as batch:
        batch.create_index("ix_stage_event_customer_stage", ["customer_id", "to_stage"])
        batch.drop_index("ix_stage_event_customer_stage_at")

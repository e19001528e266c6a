"""stored funnel state: the customer's furthest stage reached and when it was won or lost

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

The columns are filled from each customer's stage history with the rules of funnel.pipeline.rules
(`python -m funnel check` proves them equal afterwards): the furthest pipeline stage among its events
(the current stage when it has none), `won` for a won customer; the last won / lost event's time
while the customer is won / lost.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from funnel.pipeline.stages import get_pipeline

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _case(column: str, mapping: dict[str, str], default: str) -> str:
    whens = " ".join(f"WHEN '{key}' THEN {value}" for key, value in mapping.items())
    return f"CASE {column} {whens} ELSE {default} END"


def upgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        batch.add_column(sa.Column("furthest_stage", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("won_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("lost_at", sa.DateTime(), nullable=True))

    keys = get_pipeline().keys
    ranks = {key: str(i) for i, key in enumerate(keys)}
    event_rank = _case("e.to_stage", ranks, "NULL")
    current_rank = _case("customer.stage", ranks, "0")
    rank = f"COALESCE((SELECT MAX({event_rank}) FROM stage_event e WHERE e.customer_id = customer.id), {current_rank})"
    by_rank = f"CASE {rank} " + " ".join(f"WHEN {i} THEN '{key}'" for i, key in enumerate(keys))
    by_rank += f" ELSE '{keys[0]}' END"
    op.execute(
        f"""
        UPDATE customer SET
          furthest_stage = CASE WHEN status = 'won' THEN 'won' ELSE {by_rank} END,
          won_at = CASE WHEN status = 'won' THEN
            (SELECT MAX(e.at) FROM stage_event e WHERE e.customer_id = customer.id AND e.to_stage = 'won') END,
          lost_at = CASE WHEN status = 'lost' THEN
            (SELECT MAX(e.at) FROM stage_event e WHERE e.customer_id = customer.id AND e.to_stage = 'lost') END
        """
    )
    with op.batch_alter_table("customer") as batch:
        batch.alter_column("furthest_stage", existing_type=sa.String(length=32), nullable=False)
        batch.create_index("ix_customer_funnel", ["status", "stage", "furthest_stage"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        batch.drop_index("ix_customer_funnel")
        batch.drop_column("lost_at")
        batch.drop_column("won_at")
        batch.drop_column("furthest_stage")

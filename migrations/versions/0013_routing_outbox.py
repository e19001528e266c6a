"""routing and the owner told: routing rules and cursors, away reps and caps, why a lead has its owner,
group-bot endpoints and their outbox

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("away", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("max_open_leads", sa.Integer(), nullable=True))
    with op.batch_alter_table("customer") as batch:
        batch.add_column(sa.Column("assignment_reason", sa.JSON(), nullable=True))
    op.create_table(
        "routing_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("target_user_id", sa.Integer(), nullable=True),
        sa.Column("target_team", sa.String(length=64), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["target_user_id"], ["user.id"], name="fk_routing_rule_target_user_id_user", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_routing_rule"),
    )
    op.create_table(
        "routing_config",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fallback_user_id", sa.Integer(), nullable=True),
        sa.Column("fallback_team", sa.String(length=64), nullable=True),
        sa.Column("max_open_leads", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["fallback_user_id"],
            ["user.id"],
            name="fk_routing_config_fallback_user_id_user",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_routing_config"),
    )
    op.create_table(
        "routing_cursor",
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("last_user_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("team", name="pk_routing_cursor"),
    )
    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("team", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=True),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("last_error_at", sa.DateTime(), nullable=True),
        sa.Column("last_ok_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name="fk_webhook_endpoint_user_id_user", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_endpoint"),
    )
    op.create_index("ix_webhook_endpoint_user_id", "webhook_endpoint", ["user_id"], unique=False)
    op.create_index("ix_webhook_endpoint_team", "webhook_endpoint", ["team"], unique=False)
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=1000), nullable=True),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoint.id"],
            name="fk_outbox_endpoint_id_webhook_endpoint",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notification.id"],
            name="fk_outbox_notification_id_notification",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index("ix_outbox_endpoint_id", "outbox", ["endpoint_id"], unique=False)
    op.create_index("ix_outbox_status_due", "outbox", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outbox_status_due", table_name="outbox")
    op.drop_index("ix_outbox_endpoint_id", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_webhook_endpoint_team", table_name="webhook_endpoint")
    op.drop_index("ix_webhook_endpoint_user_id", table_name="webhook_endpoint")
    op.drop_table("webhook_endpoint")
    op.drop_table("routing_cursor")
    op.drop_table("routing_config")
    op.drop_table("routing_rule")
    with op.batch_alter_table("customer") as batch:
        batch.drop_column("assignment_reason")
    with op.batch_alter_table("user") as batch:
        batch.drop_column("max_open_leads")
        batch.drop_column("away")

"""timers: the fired-marker table of the timer engine; indexes for open tasks and first contacts due

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "timer_fire",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("fired_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_timer_fire"),
        sa.UniqueConstraint("rule", "period", "subject_id", name="uq_timer_fire_rule_period_subject"),
    )
    op.create_index("ix_task_open_due", "task", ["done_at", "due_at"], unique=False)
    op.create_index("ix_task_owner_open_due", "task", ["owner_id", "done_at", "due_at"], unique=False)
    op.create_index(
        "ix_customer_first_contact_due",
        "customer",
        ["status", "first_contacted_at", "created_at"],
        unique=False,
    )
    op.create_index("ix_customer_grade_owner", "customer", ["status", "grade", "owner_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_customer_grade_owner", table_name="customer")
    op.drop_index("ix_customer_first_contact_due", table_name="customer")
    op.drop_index("ix_task_owner_open_due", table_name="task")
    op.drop_index("ix_task_open_due", table_name="task")
    op.drop_table("timer_fire")

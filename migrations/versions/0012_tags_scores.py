"""tags as links, the lead score's rules and reasons, the learned win probability

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

Splits today's comma/、/;-separated `customer.tags` strings into `tag` list items (unmanaged, unless
the seeded library already has them) and customer_tag links; seeds the managed lists and score rules.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        batch.add_column(sa.Column("score_reasons", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("intake", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("win_probability", sa.Float(), nullable=True))
        batch.add_column(sa.Column("win_reasons", sa.JSON(), nullable=True))
    op.create_table(
        "score_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("arg", sa.String(length=64), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("label_en", sa.String(length=100), nullable=False),
        sa.Column("label_zh", sa.String(length=100), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_score_rule"),
    )
    op.create_table(
        "score_model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trained_at", sa.DateTime(), nullable=False),
        sa.Column("closed", sa.Integer(), nullable=False),
        sa.Column("auc_learned", sa.Float(), nullable=True),
        sa.Column("auc_rule", sa.Float(), nullable=True),
        sa.Column("model", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_score_model"),
    )
    # Seed the lists and rules and move the old tag strings into links, with the app's own code (the
    # same functions init and the demo call), in the migration's transaction.
    from sqlalchemy.orm import Session

    from funnel.capture.scoring import seed_rules
    from funnel.customers.lists_seed import seed_lists
    from funnel.customers.tags import migrate_tag_strings

    session = Session(bind=op.get_bind())
    seed_lists(session)
    seed_rules(session)
    migrate_tag_strings(session)
    session.flush()


def downgrade() -> None:
    op.drop_table("score_model")
    op.drop_table("score_rule")
    with op.batch_alter_table("customer") as batch:
        batch.drop_column("win_reasons")
        batch.drop_column("win_probability")
        batch.drop_column("intake")
        batch.drop_column("score_reasons")

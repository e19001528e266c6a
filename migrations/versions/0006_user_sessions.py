"""user sessions: the database-backed sign-in cookie

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'user_session',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=True),
        sa.Column('handoff_hash', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(), nullable=False),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name='fk_user_session_user_id', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_user_session'),
        sa.UniqueConstraint('token_hash', name='uq_user_session_token_hash'),
        sa.UniqueConstraint('handoff_hash', name='uq_user_session_handoff_hash'),
    )
    op.create_index('ix_user_session_user_id', 'user_session', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_user_session_user_id', table_name='user_session')
    op.drop_table('user_session')

"""closing: contract approval, payment plans, quotes, playbook, file bytes, survey expiry, archive and undo

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, referred: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{referred}.id"], name=f"fk_{table}_{column}_{referred}", ondelete=ondelete
    )


def upgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        batch.add_column(sa.Column("archived_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("objection") as batch:
        batch.add_column(sa.Column("response", sa.Text(), nullable=True))
    op.create_table(
        "playbook_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        _fk("playbook_entry", "by_user_id", "user"),
        sa.PrimaryKeyConstraint("id", name="pk_playbook_entry"),
        sa.UniqueConstraint("category", name="uq_playbook_entry_category"),
    )
    with op.batch_alter_table("opportunity") as batch:
        batch.add_column(sa.Column("external_id", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("products", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("probability", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("next_step", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("by_user_id", sa.Integer(), nullable=True))
        batch.create_unique_constraint("uq_opportunity_external_id", ["external_id"])
        batch.create_foreign_key("fk_opportunity_by_user_id_user", "user", ["by_user_id"], ["id"])
    with op.batch_alter_table("document") as batch:
        batch.add_column(sa.Column("opportunity_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("sent_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("feedback_due_at", sa.DateTime(), nullable=True))
        batch.create_foreign_key(
            "fk_document_opportunity_id_opportunity",
            "opportunity",
            ["opportunity_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("document") as batch:
        batch.alter_column("version", server_default=None)
    op.create_table(
        "document_blob",
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("content_hash", name="pk_document_blob"),
    )
    op.create_table(
        "quote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("quoted_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("concessions", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        _fk("quote", "customer_id", "customer", "CASCADE"),
        _fk("quote", "opportunity_id", "opportunity", "SET NULL"),
        _fk("quote", "by_user_id", "user"),
        sa.PrimaryKeyConstraint("id", name="pk_quote"),
    )
    op.create_index("ix_quote_customer_id", "quote", ["customer_id"], unique=False)
    with op.batch_alter_table("contract") as batch:
        batch.alter_column("signed_on", existing_type=sa.Date(), nullable=True)
        batch.add_column(sa.Column("external_id", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("by_user_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("approver_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("project_manager_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("document_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("submitted_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("decided_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("rejected_reason", sa.String(length=500), nullable=True))
        batch.create_unique_constraint("uq_contract_external_id", ["external_id"])
        batch.create_foreign_key("fk_contract_by_user_id_user", "user", ["by_user_id"], ["id"])
        batch.create_foreign_key("fk_contract_approver_id_user", "user", ["approver_id"], ["id"])
        batch.create_foreign_key(
            "fk_contract_project_manager_id_user", "user", ["project_manager_id"], ["id"]
        )
        batch.create_foreign_key(
            "fk_contract_document_id_document", "document", ["document_id"], ["id"], ondelete="SET NULL"
        )
    op.create_table(
        "payment_instalment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _fk("payment_instalment", "customer_id", "customer", "CASCADE"),
        _fk("payment_instalment", "contract_id", "contract", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_payment_instalment"),
    )
    op.create_index("ix_payment_instalment_customer_id", "payment_instalment", ["customer_id"], unique=False)
    op.create_index("ix_payment_instalment_contract_id", "payment_instalment", ["contract_id"], unique=False)
    with op.batch_alter_table("payment") as batch:
        batch.add_column(sa.Column("external_id", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("by_user_id", sa.Integer(), nullable=True))
        batch.create_unique_constraint("uq_payment_external_id", ["external_id"])
        batch.create_foreign_key("fk_payment_by_user_id_user", "user", ["by_user_id"], ["id"])
    with op.batch_alter_table("survey") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("recommend", sa.Integer(), nullable=True))
    op.create_table(
        "meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("contact_ids", sa.JSON(), nullable=True),
        sa.Column("user_ids", sa.JSON(), nullable=True),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("minutes", sa.Text(), nullable=True),
        sa.Column("feedback", sa.Text(), nullable=True),
        sa.Column("document_ids", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        _fk("meeting", "customer_id", "customer", "CASCADE"),
        _fk("meeting", "by_user_id", "user"),
        sa.PrimaryKeyConstraint("id", name="pk_meeting"),
    )
    op.create_index("ix_meeting_customer_id", "meeting", ["customer_id"], unique=False)
    op.create_table(
        "deleted_customer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("customer_no", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.Column("restored_at", sa.DateTime(), nullable=True),
        _fk("deleted_customer", "by_user_id", "user"),
        sa.PrimaryKeyConstraint("id", name="pk_deleted_customer"),
    )
    op.create_index("ix_deleted_customer_customer_id", "deleted_customer", ["customer_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_deleted_customer_customer_id", table_name="deleted_customer")
    op.drop_table("deleted_customer")
    op.drop_index("ix_meeting_customer_id", table_name="meeting")
    op.drop_table("meeting")
    with op.batch_alter_table("survey") as batch:
        batch.drop_column("recommend")
        batch.drop_column("expires_at")
    with op.batch_alter_table("payment") as batch:
        batch.drop_constraint("fk_payment_by_user_id_user", type_="foreignkey")
        batch.drop_constraint("uq_payment_external_id", type_="unique")
        batch.drop_column("by_user_id")
        batch.drop_column("external_id")
    op.drop_index("ix_payment_instalment_contract_id", table_name="payment_instalment")
    op.drop_index("ix_payment_instalment_customer_id", table_name="payment_instalment")
    op.drop_table("payment_instalment")
    with op.batch_alter_table("contract") as batch:
        for name in (
            "document_id_document",
            "project_manager_id_user",
            "approver_id_user",
            "by_user_id_user",
        ):
            batch.drop_constraint(f"fk_contract_{name}", type_="foreignkey")
        batch.drop_constraint("uq_contract_external_id", type_="unique")
        for column in (
            "rejected_reason", "decided_at", "submitted_at", "document_id", "project_manager_id",
            "approver_id", "by_user_id", "external_id",
        ):  # fmt: skip
            batch.drop_column(column)
    op.drop_index("ix_quote_customer_id", table_name="quote")
    op.drop_table("quote")
    op.drop_table("document_blob")
    with op.batch_alter_table("document") as batch:
        batch.drop_constraint("fk_document_opportunity_id_opportunity", type_="foreignkey")
        for column in ("feedback_due_at", "sent_at", "version", "opportunity_id"):
            batch.drop_column(column)
    with op.batch_alter_table("opportunity") as batch:
        batch.drop_constraint("fk_opportunity_by_user_id_user", type_="foreignkey")
        batch.drop_constraint("uq_opportunity_external_id", type_="unique")
        for column in ("by_user_id", "next_step", "probability", "products", "external_id"):
            batch.drop_column(column)
    op.drop_table("playbook_entry")
    with op.batch_alter_table("objection") as batch:
        batch.drop_column("response")
    with op.batch_alter_table("customer") as batch:
        batch.drop_column("archived_at")

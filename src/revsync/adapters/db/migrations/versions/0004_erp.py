"""erp postings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from revsync.adapters.db.types import ExactDecimal, UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erp_postings",
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("remote_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("party", sa.String(length=200), nullable=False),
        sa.Column("invoice_date", sa.Date(), nullable=False),
        sa.Column("rolled_forward_from", sa.Date(), nullable=True),
        sa.Column("posted_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("paid", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("amount_to_pay", ExactDecimal(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("overdue", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("dunning_level", sa.String(length=100), nullable=True),
        sa.Column("synced_at", UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_erp_postings_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("invoice_id", name=op.f("pk_erp_postings")),
    )
    with op.batch_alter_table("erp_postings", schema=None) as batch_op:
        batch_op.create_index("ix_erp_postings_open", ["paid", "invoice_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("erp_postings", schema=None) as batch_op:
        batch_op.drop_index("ix_erp_postings_open")

    op.drop_table("erp_postings")

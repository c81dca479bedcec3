"""support tool: where the incremental reads stopped, the tickets as last read, and the
service credits asked on them

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from revsync.adapters.db.types import ExactDecimal, JsonText, UtcDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "support_watermarks",
        sa.Column("name", sa.String(length=32), primary_key=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("synced_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "support_tickets",
        sa.Column("ticket_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("organization_id", sa.BigInteger(), nullable=True),
        sa.Column("customer_id", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("context_digest", sa.String(length=64), nullable=True),
        sa.Column("read_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_support_tickets_customer", "support_tickets", ["customer_id", "created_at"])
    op.create_table(
        "support_credits",
        sa.Column("ticket_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=True),
        sa.Column("lines", JsonText(), nullable=True),
        sa.Column("total", ExactDecimal(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=True),
        sa.Column("credit_note_id", sa.String(length=40), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("announced", sa.Boolean(), nullable=False),
        sa.Column("requested_at", UtcDateTime(), nullable=False),
        sa.Column("decided_at", UtcDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
    )
    op.create_index("ix_support_credits_case", "support_credits", ["case_id"])
    op.create_index("ix_support_credits_due", "support_credits", ["status", "announced"])


def downgrade() -> None:
    op.drop_index("ix_support_credits_due", table_name="support_credits")
    op.drop_index("ix_support_credits_case", table_name="support_credits")
    op.drop_table("support_credits")
    op.drop_index("ix_support_tickets_customer", table_name="support_tickets")
    op.drop_table("support_tickets")
    op.drop_table("support_watermarks")

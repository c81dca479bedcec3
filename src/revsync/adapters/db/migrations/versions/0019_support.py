"""support tool: where the incremental reads stopped, and the tickets as last read

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from revsync.adapters.db.types import UtcDateTime

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


def downgrade() -> None:
    op.drop_index("ix_support_tickets_customer", table_name="support_tickets")
    op.drop_table("support_tickets")
    op.drop_table("support_watermarks")

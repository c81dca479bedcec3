"""crm watermarks and pushed signals

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from revsync.adapters.db.types import JsonText, UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crm_watermarks",
        sa.Column("sobject", sa.String(length=64), nullable=False),
        sa.Column("modstamp", UtcDateTime(timezone=True), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("synced_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sobject", name=op.f("pk_crm_watermarks")),
    )
    op.create_table(
        "crm_signals",
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("values", JsonText(), nullable=False),
        sa.Column("pushed_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_crm_signals")),
    )


def downgrade() -> None:
    op.drop_table("crm_signals")
    op.drop_table("crm_watermarks")

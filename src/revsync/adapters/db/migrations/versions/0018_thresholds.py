"""usage thresholds: a subscription's own, the crossings recorded, the watcher's watermark and
the customers whose usage it must look at again

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from revsync.adapters.db.types import ExactDecimal, JsonText, UtcDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("thresholds", JsonText(), nullable=True))
    op.create_table(
        "threshold_crossings",
        sa.Column("subscription_id", sa.String(length=128), primary_key=True),
        sa.Column("threshold_key", sa.String(length=64), primary_key=True),
        sa.Column("period_start", sa.Date(), primary_key=True),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column(
            "customer_id", sa.String(length=128), sa.ForeignKey("customers.id"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("meter", sa.String(length=128), nullable=True),
        sa.Column("limit_value", ExactDecimal(), nullable=False),
        sa.Column("observed", ExactDecimal(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("cutoff_seq", sa.BigInteger(), nullable=False),
        sa.Column("crossed_at", UtcDateTime(), nullable=False),
        sa.Column("interim_invoice_id", sa.String(length=40), nullable=True),
    )
    op.create_index("ix_threshold_crossings_customer", "threshold_crossings", ["customer_id"])
    op.create_index("ix_threshold_crossings_crossed_at", "threshold_crossings", ["crossed_at"])
    op.create_table(
        "threshold_rechecks",
        sa.Column("customer_id", sa.String(length=128), primary_key=True),
    )
    op.create_table(
        "usage_watermarks",
        sa.Column("name", sa.String(length=64), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("usage_watermarks")
    op.drop_table("threshold_rechecks")
    op.drop_index("ix_threshold_crossings_crossed_at", table_name="threshold_crossings")
    op.drop_index("ix_threshold_crossings_customer", table_name="threshold_crossings")
    op.drop_table("threshold_crossings")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("thresholds")

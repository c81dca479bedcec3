"""won CRM opportunities taken (subscription, ERP sale order) or refused; each CRM contract's
plan and seats as last read

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from revsync.adapters.db.types import JsonText, UtcDateTime

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deals",
        sa.Column("opportunity_id", sa.String(length=64), primary_key=True),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=True),
        sa.Column("subscription_id", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("start", sa.Date(), nullable=True),
        sa.Column("lines", JsonText(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("erp_sale_id", sa.String(length=64), nullable=True),
        sa.Column("erp_sale_number", sa.String(length=64), nullable=True),
        sa.Column("sale_lines", JsonText(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_deals_subscription_id", "deals", ["subscription_id"])
    op.create_index("ix_deals_status", "deals", ["status", "updated_at"])
    op.create_table(
        "crm_contracts",
        sa.Column("contract_id", sa.String(length=64), primary_key=True),
        sa.Column("plan", sa.String(length=200), nullable=True),
        sa.Column("seats", sa.Integer(), nullable=True),
        sa.Column("seen_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("crm_contracts")
    op.drop_index("ix_deals_status", table_name="deals")
    op.drop_index("ix_deals_subscription_id", table_name="deals")
    op.drop_table("deals")

"""renewal assessments announced, one per subscription, renewal date and horizon; onboarding
milestones reached or missed

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from revsync.adapters.db.types import ExactDecimal, JsonText, UtcDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "renewal_assessments",
        sa.Column("subscription_id", sa.String(length=128), primary_key=True),
        sa.Column("renewal_date", sa.Date(), primary_key=True),
        sa.Column("horizon", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reasons", JsonText(), nullable=False),
        sa.Column("assessed_at", UtcDateTime(), nullable=False),
    )

    op.create_table(
        "onboarding_milestones",
        sa.Column("subscription_id", sa.String(length=128), primary_key=True),
        sa.Column("milestone", sa.String(length=64), primary_key=True),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("used", ExactDecimal(), nullable=False),
        sa.Column("decided_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("onboarding_milestones")
    op.drop_table("renewal_assessments")

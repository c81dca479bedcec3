"""subscriptions' intervals hold the longer names (quarter, half_year)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch_op:
        for column in ("interval", "usage_interval"):
            batch_op.alter_column(
                column, existing_type=sa.String(length=8), type_=sa.String(length=16)
            )


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch_op:
        for column in ("interval", "usage_interval"):
            batch_op.alter_column(
                column, existing_type=sa.String(length=16), type_=sa.String(length=8)
            )

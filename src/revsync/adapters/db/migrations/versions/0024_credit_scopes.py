"""prepaid credit grants may be limited to plans and meters (a coupon's limits live in its
definition, beside its other terms)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from revsync.adapters.db.types import JsonText

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("credit_grants") as batch:
        batch.add_column(sa.Column("applies_to", JsonText(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("credit_grants") as batch:
        batch.drop_column("applies_to")

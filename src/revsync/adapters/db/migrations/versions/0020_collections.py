"""collections ladder: where each customer stands on it

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from revsync.adapters.db.types import JsonText, UtcDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collections",
        sa.Column("customer_id", sa.String(length=128), primary_key=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("tasks", JsonText(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("restriction", JsonText(), nullable=True),
        sa.Column("since", sa.Date(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_collections_updated", "collections", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_collections_updated", table_name="collections")
    op.drop_table("collections")

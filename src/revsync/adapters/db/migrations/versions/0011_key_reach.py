"""keys limited to customers

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # space-separated customer ids; null: the key reaches every customer. The scopes column
    # keeps its name and now holds roles (ingest, read and admin are roles of the same names)
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("customers", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("customers")

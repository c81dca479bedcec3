"""audit entries say how they were hashed (keyed chains)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # every entry written so far was hashed the old way: SHA-256 of sorted-key JSON
    for table in ("audit_log", "audit_head"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("alg", sa.String(length=32), nullable=False, server_default="sha256-json")
            )


def downgrade() -> None:
    for table in ("audit_head", "audit_log"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("alg")

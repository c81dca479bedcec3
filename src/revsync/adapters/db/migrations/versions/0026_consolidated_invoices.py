"""consolidated invoices: a subscription's invoice billed on a customer's consolidated invoice
names it

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN on both backends: every invoice so far stands alone
    op.add_column("invoices", sa.Column("consolidated_into", sa.String(40), nullable=True))
    op.create_index(
        "ix_invoices_consolidated_into", "invoices", ["consolidated_into"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_invoices_consolidated_into", table_name="invoices")
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("consolidated_into")

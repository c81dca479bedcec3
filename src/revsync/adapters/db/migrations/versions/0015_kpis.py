"""KPI measurements and counters; indexes for the KPI queries

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from revsync.adapters.db.types import JsonText, UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kpi_measurements",
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("figures", JsonText(), nullable=False),
        sa.PrimaryKeyConstraint("at", name="pk_kpi_measurements"),
    )
    op.create_table(
        "kpi_counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_kpi_counters"),
    )
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    op.create_index(
        "ix_outbox_messages_destination_created", "outbox_messages", ["destination", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_destination_created", table_name="outbox_messages")
    op.drop_index("ix_audit_log_action", table_name="audit_log")
    op.drop_table("kpi_counters")
    op.drop_table("kpi_measurements")

"""outages spend no attempts, cases hold messages, jobs run once

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from revsync.adapters.db.types import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch:
        batch.add_column(
            sa.Column("outage_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("outage_since", UtcDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("case_id", sa.String(length=64), nullable=True))
    # the messages each case holds (a message's own case, or its destination's outage case)
    op.execute(
        "UPDATE outbox_messages SET case_id = (SELECT c.id FROM exception_cases c "
        "WHERE c.message_id = outbox_messages.id)"
    )
    op.create_index("ix_outbox_messages_case_id", "outbox_messages", ["case_id"])
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_started_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_outcome", sa.String(length=16), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_leases")),
    )


def downgrade() -> None:
    op.drop_table("job_leases")
    op.drop_index("ix_outbox_messages_case_id", table_name="outbox_messages")
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_column("case_id")
        batch.drop_column("outage_since")
        batch.drop_column("outage_attempts")

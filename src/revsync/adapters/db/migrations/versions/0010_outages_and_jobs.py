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
    # a destination's rate limit, shared by every relay (a token bucket)
    with op.batch_alter_table("destination_circuits") as batch:
        batch.add_column(sa.Column("tokens", sa.Float(), nullable=True))
        batch.add_column(sa.Column("tokens_at", UtcDateTime(timezone=True), nullable=True))
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_started_at", UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_job_leases")),
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("started_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
    )
    op.create_index("ix_job_runs_name_started", "job_runs", ["name", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_job_runs_name_started", table_name="job_runs")
    op.drop_table("job_runs")
    op.drop_table("job_leases")
    with op.batch_alter_table("destination_circuits") as batch:
        batch.drop_column("tokens_at")
        batch.drop_column("tokens")
    op.drop_index("ix_outbox_messages_case_id", table_name="outbox_messages")
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_column("case_id")
        batch.drop_column("outage_since")
        batch.drop_column("outage_attempts")

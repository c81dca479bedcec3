"""usage marks: when stored events were attached to their customer and when they were voided,
so that the events behind an invoice line stay those it counted

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN on both backends (no table copy): every event stored so far keeps its
    # answer — counted from its ``seq`` on, as before
    op.add_column("usage_events", sa.Column("attached_seq", sa.BigInteger(), nullable=True))
    op.add_column("voided_events", sa.Column("attached_seq", sa.BigInteger(), nullable=True))
    # events voided before this migration keep no mark: listed behind no line, as before
    op.add_column("voided_events", sa.Column("voided_seq", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_voided_events_customer_time", "voided_events", ["customer_id", "time_us"], unique=False
    )
    op.create_table(
        "usage_marks",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_marks")),
    )
    # starting at the highest voided event keeps SQLite from numbering a new event as one
    # that was voided (its rowid would otherwise follow the highest event left)
    op.execute(
        "INSERT INTO usage_marks (id, seq) SELECT 1, COALESCE(MAX(seq), 0) FROM voided_events"
    )


def downgrade() -> None:
    op.drop_table("usage_marks")
    op.drop_index("ix_voided_events_customer_time", table_name="voided_events")
    with op.batch_alter_table("voided_events") as batch:
        batch.drop_column("voided_seq")
        batch.drop_column("attached_seq")
    with op.batch_alter_table("usage_events") as batch:
        batch.drop_column("attached_seq")

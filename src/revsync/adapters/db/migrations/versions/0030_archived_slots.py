"""usage archive on SQLite: ``archived_slots`` keeps the dedup claims of the events archived to
Parquet files (PostgreSQL: unchanged, its claims stay in ``usage_slots``)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05

On SQLite an event's dedup claim is its ``usage_events`` row (the unique ``dedup_slot``).
Archiving a month deletes its rows once they are in the month's Parquet file, so their claims
move here in the same transaction (docs/architecture.md#usage-archive-on-sqlite).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_table(
        "archived_slots",
        # INTEGER PRIMARY KEY: the rowid, so that a slot is one probe of the table
        sa.Column("dedup_slot", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(16), nullable=False),
        sa.PrimaryKeyConstraint("dedup_slot", name="pk_archived_slots"),
    )
    op.create_index("ix_archived_slots_day", "archived_slots", ["day"])


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    if bind.exec_driver_sql("SELECT 1 FROM archived_slots LIMIT 1").first() is not None:
        raise RuntimeError(
            "archived_slots holds the dedup claims of usage archived to Parquet files: "
            "dropping it would let their events be stored again (revsync keeps no way back)"
        )
    op.drop_index("ix_archived_slots_day", table_name="archived_slots")
    op.drop_table("archived_slots")

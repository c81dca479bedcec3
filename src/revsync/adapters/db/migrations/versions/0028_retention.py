"""retention: the dead letters pruned per channel (their metric is a counter); indexes that
find the oldest delivered messages and dead letters

Revision ID: 0028
Revises: 0027
Create Date: 2027-01-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_letters_pruned",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("channel", name="pk_dead_letters_pruned"),
    )
    op.create_index("ix_outbox_messages_delivered", "outbox_messages", ["status", "delivered_at"])
    op.create_index("ix_dead_letters_received_at", "dead_letters", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_dead_letters_received_at", table_name="dead_letters")
    op.drop_index("ix_outbox_messages_delivered", table_name="outbox_messages")
    op.drop_table("dead_letters_pruned")

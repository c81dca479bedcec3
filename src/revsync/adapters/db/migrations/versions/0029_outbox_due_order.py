"""the outbox's due index ends with the message id: a relay's claim of the oldest due
messages reads them in index order and stops at its limit, also when a backlog was written at
one instant (equal next_attempt_at); without it PostgreSQL sorted the whole backlog per claim

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_outbox_messages_due", table_name="outbox_messages")
    op.create_index(
        "ix_outbox_messages_due", "outbox_messages", ["status", "next_attempt_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_due", table_name="outbox_messages")
    op.create_index("ix_outbox_messages_due", "outbox_messages", ["status", "next_attempt_at"])

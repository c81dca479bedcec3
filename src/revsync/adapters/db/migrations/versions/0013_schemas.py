"""the schema registry: versioned JSON Schemas of event data

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from revsync.adapters.db.types import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_schemas",
        sa.Column("type", sa.String(length=256), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("schema", sa.Text(), nullable=False),
        sa.Column("compatibility", sa.String(length=16), nullable=False),
        sa.Column("upcast", sa.Text(), nullable=True),
        sa.Column("registered_at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("type", "version", name="pk_event_schemas"),
    )
    # quarantined events are listed and released by code
    op.create_index("ix_dead_letters_code", "dead_letters", ["code"])


def downgrade() -> None:
    op.drop_index("ix_dead_letters_code", table_name="dead_letters")
    op.drop_table("event_schemas")

"""The tables, in SQLAlchemy Core. Alembic migrations create them; tests use the migrations."""

from __future__ import annotations

import sqlalchemy as sa

from revsync.adapters.db.types import RowId, UtcDateTime

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column(
        "parent_id", sa.String(128), sa.ForeignKey("customers.id"), nullable=True, index=True
    ),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

customer_refs = sa.Table(
    "customer_refs",
    metadata,
    sa.Column("system", sa.String(16), primary_key=True),
    sa.Column("value", sa.String(255), primary_key=True),
    sa.Column(
        "customer_id", sa.String(128), sa.ForeignKey("customers.id"), nullable=False, index=True
    ),
)

# One row; ``version`` goes up with every change to tenant references, so that ingestion can
# keep the tenant map in memory and reload it inside its transaction when it changed.
identity_state = sa.Table(
    "identity_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("prefix", sa.String(32), nullable=False, unique=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", RowId, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("object_type", sa.String(100), nullable=False),
    sa.Column("object_id", sa.String(255), nullable=False),
    sa.Column("before", sa.Text, nullable=True),
    sa.Column("after", sa.Text, nullable=True),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# One row holding the tail of the chain; appenders lock it so the chain never forks.
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", RowId, primary_key=True, autoincrement=True),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("position", sa.Integer, nullable=True),
    sa.Column("event_source", sa.Text, nullable=True),
    sa.Column("event_id", sa.Text, nullable=True),
    sa.Column("correlation_id", sa.String(128), nullable=True),
    sa.Column("actor", sa.String(200), nullable=True),
)

# Accepted usage. ``seq`` is the ingest order (the rowid on SQLite, so appends are cheap).
# ``dedup_slot`` is a 64-bit hash of (source, id) with open addressing on collisions; its
# unique index is the dedup claim, committed with the row. Times are microseconds since the
# epoch (UTC); ``day`` partitions the customer index so that appends touch only recent pages.
usage_events = sa.Table(
    "usage_events",
    metadata,
    sa.Column("seq", RowId, primary_key=True, autoincrement=True),
    sa.Column("dedup_slot", sa.BigInteger, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("event_id", sa.Text, nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("time_us", sa.BigInteger, nullable=False),
    sa.Column("day", sa.Integer, nullable=False),
    sa.Column("customer_id", sa.String(128), nullable=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("fingerprint", sa.LargeBinary(16), nullable=False),
    sa.Column("received_us", sa.BigInteger, nullable=False),
    sa.Column("late", sa.Boolean, nullable=False),
    sa.UniqueConstraint("dedup_slot"),
    sa.Index("ix_usage_events_day_customer", "day", "customer_id"),
    sa.Index(
        "ix_usage_events_unmapped",
        "subject",
        sqlite_where=sa.text("customer_id IS NULL"),
        postgresql_where=sa.text("customer_id IS NULL"),
    ),
)

"""usage on PostgreSQL at scale: ``usage_events`` partitioned by month, the dedup claim in
``usage_slots``, an archive schema for old months (SQLite: unchanged)

Revision ID: 0027
Revises: 0026
Create Date: 2027-01-11

PostgreSQL refuses a unique index on a partitioned table unless it includes the partition
key, so ``UNIQUE(dedup_slot)`` moves to ``usage_slots``, one row per slot ever claimed (the
events stored and voided so far). The events are copied into a new table partitioned by range
of ``day`` (one table per month that holds events, and a default one for the others) that
takes over the old table's name and ``seq`` sequence; the old table is dropped. This rewrites
every stored event: plan for it on a large database (docs/deploy.md#usage-storage).
"""

from __future__ import annotations

from datetime import date

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

_COLUMNS = (
    "seq, dedup_slot, source, event_id, type, subject, time_us, day, customer_id, data,"
    " fingerprint, received_us, late, attached_seq"
)
_SLOT_COLUMNS = "dedup_slot, seq, day, source, event_id, fingerprint"


def _day(year: int, month: int) -> int:
    return (date(year, month, 1) - date(1970, 1, 1)).days


def _month_table(year: int, month: int) -> None:
    start, end = _day(year, month), _day(year + month // 12, month % 12 + 1)
    name = f"usage_events_{year:04d}_{month:02d}"
    # the CHECK repeats the bound, so that the table can later be attached to the archive
    # without a scan (usage_storage.py)
    op.execute(
        f"CREATE TABLE {name} PARTITION OF usage_events"
        f" (CONSTRAINT ck_{name}_month CHECK (day >= {start} AND day < {end}))"
        f" FOR VALUES FROM ({start}) TO ({end})"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite: one table, whose unique index on dedup_slot is the claim
    op.execute("ALTER SEQUENCE usage_events_seq_seq OWNED BY NONE")
    op.execute("ALTER TABLE usage_events RENAME TO usage_events_0026")
    op.execute("ALTER TABLE usage_events_0026 DROP CONSTRAINT pk_usage_events")
    op.execute("ALTER TABLE usage_events_0026 DROP CONSTRAINT uq_usage_events_dedup_slot")
    op.execute("DROP INDEX ix_usage_events_day_customer")
    op.execute("DROP INDEX ix_usage_events_unmapped")
    op.execute(
        "CREATE TABLE usage_slots (dedup_slot BIGINT NOT NULL, seq BIGINT NOT NULL,"
        " day INTEGER NOT NULL, source TEXT NOT NULL, event_id TEXT NOT NULL,"
        " fingerprint BYTEA NOT NULL, CONSTRAINT pk_usage_slots PRIMARY KEY (dedup_slot))"
    )
    # the slots of voided events stay claimed, as they were in voided_events (which keeps no
    # day: it is the day of their time, in UTC)
    op.execute(
        f"INSERT INTO usage_slots ({_SLOT_COLUMNS})"  # noqa: S608 - constant names only
        f" SELECT {_SLOT_COLUMNS} FROM usage_events_0026 UNION ALL"
        " SELECT dedup_slot, seq, (time_us / 86400000000)::int, source, event_id, fingerprint"
        " FROM voided_events"
    )
    op.execute(_PARTITIONED.format(schema="", default="DEFAULT nextval('usage_events_seq_seq')"))
    op.execute("CREATE INDEX ix_usage_events_day_customer ON usage_events (day, customer_id)")
    op.execute(
        "CREATE INDEX ix_usage_events_unmapped ON usage_events (subject) WHERE customer_id IS NULL"
    )
    op.execute("CREATE TABLE usage_events_default PARTITION OF usage_events DEFAULT")
    months = op.get_bind().exec_driver_sql(
        "SELECT DISTINCT date_part('year', m)::int, date_part('month', m)::int FROM"
        " (SELECT date_trunc('month', DATE '1970-01-01' + day) AS m"
        " FROM usage_events_0026) AS months"
    )
    for year, month in sorted(months):
        _month_table(year, month)
    op.execute(
        f"INSERT INTO usage_events ({_COLUMNS})"  # noqa: S608 - constant names only
        f" SELECT {_COLUMNS} FROM usage_events_0026 ORDER BY seq"
    )
    op.execute("ALTER SEQUENCE usage_events_seq_seq OWNED BY usage_events.seq")
    op.execute("DROP TABLE usage_events_0026")
    op.execute("CREATE SCHEMA usage_archive")
    op.execute(_PARTITIONED.format(schema="usage_archive.", default=""))
    op.execute(
        "CREATE INDEX ix_usage_events_day_customer ON usage_archive.usage_events (day, customer_id)"
    )
    op.execute(
        "CREATE INDEX ix_usage_events_unmapped ON usage_archive.usage_events (subject)"
        " WHERE customer_id IS NULL"
    )


_PARTITIONED = """CREATE TABLE {schema}usage_events (
    seq BIGINT NOT NULL {default},
    dedup_slot BIGINT NOT NULL,
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    subject TEXT NOT NULL,
    time_us BIGINT NOT NULL,
    day INTEGER NOT NULL,
    customer_id VARCHAR(128),
    data TEXT NOT NULL,
    fingerprint BYTEA NOT NULL,
    received_us BIGINT NOT NULL,
    late BOOLEAN NOT NULL,
    attached_seq BIGINT,
    CONSTRAINT pk_usage_events PRIMARY KEY (seq, day)
) PARTITION BY RANGE (day)"""


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # one table again, archived months included
    op.execute("CREATE TABLE usage_events_0027 (LIKE usage_events INCLUDING DEFAULTS)")
    op.execute(
        f"INSERT INTO usage_events_0027 ({_COLUMNS}) SELECT {_COLUMNS} FROM"  # noqa: S608
        f" (SELECT {_COLUMNS} FROM usage_events UNION ALL"
        f" SELECT {_COLUMNS} FROM usage_archive.usage_events) AS every ORDER BY seq"
    )
    op.execute("ALTER SEQUENCE usage_events_seq_seq OWNED BY NONE")
    op.execute("DROP TABLE usage_events")
    op.execute("DROP SCHEMA usage_archive CASCADE")
    op.execute("DROP TABLE usage_slots")
    op.execute("ALTER TABLE usage_events_0027 RENAME TO usage_events")
    op.execute("ALTER TABLE usage_events ADD CONSTRAINT pk_usage_events PRIMARY KEY (seq)")
    op.execute(
        "ALTER TABLE usage_events ADD CONSTRAINT uq_usage_events_dedup_slot UNIQUE (dedup_slot)"
    )
    op.execute("CREATE INDEX ix_usage_events_day_customer ON usage_events (day, customer_id)")
    op.execute(
        "CREATE INDEX ix_usage_events_unmapped ON usage_events (subject) WHERE customer_id IS NULL"
    )
    op.execute("ALTER SEQUENCE usage_events_seq_seq OWNED BY usage_events.seq")

"""Monthly tables of stored usage on PostgreSQL: made ahead, filled from the default table,
archived (docs/architecture.md#usage-on-postgresql, docs/deploy.md#usage-storage).

``usage_events`` is partitioned by range of ``day``: ``usage_events_2026_10`` holds the events
of October 2026 (UTC), ``usage_events_default`` those of months without a table. Each
month's table carries a CHECK of its range, so that it can be attached (here, to the archive)
without a scan. Every change is one transaction under a short ``lock_timeout``: a change that
cannot take its locks at once gives up, and the next run does it.

- A new month's table is made as a plain table, filled with the month's events moved out of
  the default table (which is locked meanwhile, so no event of the month lands there in
  between), then attached: PostgreSQL refuses a partition whose rows the default holds, and
  attaching takes a lighter lock on ``usage_events`` than ``CREATE TABLE … PARTITION OF``.
- Archiving detaches a month's table (plainly: ``DETACH … CONCURRENTLY`` is refused while a
  default partition exists), moves it to the ``usage_archive`` schema and attaches it to
  ``usage_archive.usage_events``, all in one transaction: readers see the month in one place
  or the other, never neither. Its dedup claims (``usage_slots``) stay.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from revsync.adapters.db.tables import ARCHIVE_SCHEMA, invoices, subscriptions, usage_rechecks
from revsync.domain.delivery import CaseKind, CaseStatus
from revsync.domain.invoicing import InvoiceStatus
from revsync.domain.usage_months import Month
from revsync.ports.usage import StoredMonths

_COLUMNS = (
    "seq, dedup_slot, source, event_id, type, subject, time_us, day, customer_id, data,"
    " fingerprint, received_us, late, attached_seq"
)
_PARTITIONS = sa.text(
    "SELECT n.nspname, c.relname FROM pg_inherits i"
    " JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
    " JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace"
    " WHERE p.relname = 'usage_events' AND pn.nspname IN (current_schema(), :archive)"
)
_WAITING = sa.text(
    "SELECT DISTINCT date_part('year', m)::int, date_part('month', m)::int FROM"
    " (SELECT date_trunc('month', DATE '1970-01-01' + day) AS m FROM usage_events_default)"
    " AS months"
)
_OPEN_BILLING_CASE = sa.text(
    "SELECT object_id FROM exception_cases WHERE kind = :kind AND status = :status LIMIT 1"
)


def unsettled_reason(conn: sa.Connection, month: Month) -> str | None:
    """Why billing may still read ``month``'s usage, or None (``UsageStorage.unsettled``; on
    both dialects)."""
    # an invoice's period is a date in its customer's zone: a day of slack covers them all
    last_day = month.plus(1).start().date()
    i, s = invoices.c, subscriptions.c
    draft = conn.execute(
        sa.select(i.id)
        .where(i.status == InvoiceStatus.DRAFT.value, i.period_start <= last_day)
        .limit(1)
    ).scalar()
    if draft is not None:
        return f"invoice {draft} is a draft"
    recheck = conn.execute(
        sa.select(i.id).where(i.recheck.is_(True), i.period_start <= last_day).limit(1)
    ).scalar()
    if recheck is not None:
        return f"invoice {recheck} is to be rated again"
    amended = conn.execute(
        sa.select(s.id, s.recheck_from).where(s.recheck_from <= last_day).limit(1)
    ).first()
    if amended is not None:
        return f"subscription {amended[0]} is to be rated again from {amended[1]}"
    changed = conn.execute(
        sa.select(usage_rechecks.c.customer_id)
        .where(usage_rechecks.c.from_us < month.end_us + 86_400_000_000)
        .limit(1)
    ).scalar()
    if changed is not None:
        return f"the usage of customer {changed} is to be rated again"
    case = conn.execute(
        _OPEN_BILLING_CASE,
        {"kind": CaseKind.BILLING.value, "status": CaseStatus.OPEN.value},
    ).scalar()
    if case is not None:
        return f"subscription {case} could not be billed (an open billing case)"
    return None


def month_table(month: Month) -> str:
    """The name of a month's table: ``usage_events_2026_10``."""
    return f"usage_events_{month.name}"


class SqlUsageStorage:
    """:class:`~revsync.ports.usage.UsageStorage` on PostgreSQL."""

    def __init__(self, engine: Engine, *, lock_timeout_ms: int = 2000) -> None:
        self._engine = engine
        self._lock_timeout_ms = int(lock_timeout_ms)

    def months(self) -> StoredMonths:
        live: set[Month] = set()
        archived: set[Month] = set()
        with self._engine.connect() as conn:
            for schema, name in conn.execute(_PARTITIONS, {"archive": ARCHIVE_SCHEMA}):
                month = Month.parse(name.removeprefix("usage_events_"))
                if month is not None:
                    (archived if schema == ARCHIVE_SCHEMA else live).add(month)
            waiting = {Month(year, month) for year, month in conn.execute(_WAITING)}
        return StoredMonths(frozenset(live), frozenset(archived), frozenset(waiting))

    def add_month(self, month: Month) -> int:
        name, start, end = month_table(month), month.start_day, month.end_day
        with self._engine.begin() as conn:
            self._lock_timeout(conn)
            conn.exec_driver_sql(
                f"CREATE TABLE {name} (LIKE usage_events,"
                f" CONSTRAINT ck_{name}_month CHECK (day >= {start} AND day < {end}))"
            )
            # nothing lands in the default table until the month's table is attached
            conn.exec_driver_sql("LOCK TABLE usage_events_default IN ACCESS EXCLUSIVE MODE")
            moved = conn.exec_driver_sql(
                # integers and the month's name only
                f"WITH moved AS (DELETE FROM usage_events_default"  # noqa: S608
                f" WHERE day >= {start} AND day < {end} RETURNING {_COLUMNS})"
                f" INSERT INTO {name} ({_COLUMNS}) SELECT {_COLUMNS} FROM moved"
            ).rowcount
            conn.exec_driver_sql(
                f"ALTER TABLE usage_events ATTACH PARTITION {name}"
                f" FOR VALUES FROM ({start}) TO ({end})"
            )
        return int(moved)

    def unsettled(self, month: Month) -> str | None:
        with self._engine.connect() as conn:
            return unsettled_reason(conn, month)

    def archive(self, month: Month) -> None:
        name, start, end = month_table(month), month.start_day, month.end_day
        with self._engine.begin() as conn:
            self._lock_timeout(conn)
            conn.exec_driver_sql(f"ALTER TABLE usage_events DETACH PARTITION {name}")
            conn.exec_driver_sql(f"ALTER TABLE {name} SET SCHEMA {ARCHIVE_SCHEMA}")
            conn.exec_driver_sql(
                f"ALTER TABLE {ARCHIVE_SCHEMA}.usage_events ATTACH PARTITION"
                f" {ARCHIVE_SCHEMA}.{name} FOR VALUES FROM ({start}) TO ({end})"
            )

    def _lock_timeout(self, conn: sa.Connection) -> None:
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {self._lock_timeout_ms}")

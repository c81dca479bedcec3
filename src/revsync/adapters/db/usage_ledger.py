"""The usage ledger on SQL: group commit of ingestion steps, dedup slots, tenant owners.

One writer thread per process takes the steps submitted by concurrent requests and runs as
many as are waiting in one transaction (group commit), so that a durable commit is paid once
per group instead of once per request. If a group fails, each of its steps is retried in a
transaction of its own, so one bad step cannot fail its neighbours.

SQLite claims a dedup slot with the row itself (its unique ``dedup_slot``; a voided event keeps
its claim in ``voided_events``, an archived one in ``archived_slots``). PostgreSQL, whose
``usage_events`` is partitioned by month, claims it in ``usage_slots`` in the statement that
inserts the row (:func:`_claim_and_insert`); a batch of :data:`COPY_ROWS` rows or more is sent
with COPY first. On both, a row whose slot is taken is skipped, not an error: ingestion writes
first and reads only the slots it lost.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from revsync.adapters.db.delivery_repositories import open_unmapped_cases
from revsync.adapters.db.engine import IDENTITY_LOCK, WRITE, is_sqlite
from revsync.adapters.db.repositories import SqlDeadLetterStore
from revsync.adapters.db.tables import (
    archived_slots,
    customer_refs,
    customers,
    identity_state,
    usage_events,
    usage_slots,
    voided_events,
)
from revsync.adapters.db.usage_marks import SQLITE_ABOVE_MARK
from revsync.adapters.failpoints import NONE, Failpoints
from revsync.domain.identity import System
from revsync.ports.delivery import CaseNews
from revsync.ports.repositories import DeadLetter
from revsync.ports.usage import EventRow, StoredKey, TenantOwner, UsageTransaction

T = TypeVar("T")
log = structlog.get_logger(__name__)

#: stored columns, in the order of :class:`EventRow`'s fields
_COLUMN_OF_FIELD = {"slot": "dedup_slot", "data_json": "data"}
_INSERT_COLUMNS = tuple(_COLUMN_OF_FIELD.get(name, name) for name in EventRow._fields)


@dataclass(slots=True)
class _Job:
    step: Callable[[UsageTransaction], Any]
    future: Future[Any]


_OWNERS_QUERY = (
    sa.select(customer_refs.c.value, customers.c.id, customers.c.timezone)
    .join(customers, customers.c.id == customer_refs.c.customer_id)
    .where(customer_refs.c.system == System.PRODUCT.value)
)
_VERSION_QUERY = sa.select(identity_state.c.version)
_KEY_COLUMNS = (
    usage_events.c.dedup_slot,
    usage_events.c.source,
    usage_events.c.event_id,
    usage_events.c.fingerprint,
)
_SLOTS_FROM_JSON: sa.Select[Any] = sa.select(sa.column("value")).select_from(
    sa.func.json_each(sa.bindparam("slots"))
)
#: the keys of voided events: their slots stay claimed (a voided event sent again is no news)
_VOIDED_KEY_COLUMNS = (
    voided_events.c.dedup_slot,
    voided_events.c.source,
    voided_events.c.event_id,
    voided_events.c.fingerprint,
)
#: SQLite: the keys of events archived to Parquet files: their slots stay claimed too
_ARCHIVED_KEY_COLUMNS = (
    archived_slots.c.dedup_slot,
    archived_slots.c.source,
    archived_slots.c.event_id,
    archived_slots.c.fingerprint,
)
_PG_SLOTS = sa.bindparam("slots", type_=postgresql.ARRAY(sa.BigInteger))
#: PostgreSQL: every slot ever claimed is in ``usage_slots`` (events stored, voided, archived)
STORED_KEYS_PG = sa.select(
    usage_slots.c.dedup_slot,
    usage_slots.c.source,
    usage_slots.c.event_id,
    usage_slots.c.fingerprint,
).where(usage_slots.c.dedup_slot == sa.any_(_PG_SLOTS))
#: from this many rows on, PostgreSQL ingestion sends them with COPY
COPY_ROWS = 500
#: the events' sequence (migration 0001, kept by 0027 for the partitioned table)
_SEQ = sa.Sequence("usage_events_seq_seq")
_PG_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "dedup_slot": sa.BigInteger(),
    "source": sa.Text(),
    "event_id": sa.Text(),
    "type": sa.Text(),
    "subject": sa.Text(),
    "time_us": sa.BigInteger(),
    "day": sa.Integer(),
    "customer_id": sa.Text(),
    "data": sa.Text(),
    "fingerprint": sa.LargeBinary(),
    "received_us": sa.BigInteger(),
    "late": sa.Boolean(),
}
#: COPY's binary types of the batch's columns, in the order of :data:`_INSERT_COLUMNS`
_COPY_TYPES = (
    *("int8", "text", "text", "text", "text", "int8", "int4", "text", "text", "bytea"),
    *("int8", "bool", "int8"),  # received_us, late, ord
)
_BATCH_TABLE = "usage_batch"
_CREATE_BATCH = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_BATCH_TABLE} (dedup_slot bigint, source text,"
    " event_id text, type text, subject text, time_us bigint, day integer, customer_id text,"
    " data text, fingerprint bytea, received_us bigint, late boolean, ord bigint)"
    " ON COMMIT DELETE ROWS"
)
_COPY_BATCH = (
    f"COPY {_BATCH_TABLE} ({', '.join((*_INSERT_COLUMNS, 'ord'))}) FROM STDIN (FORMAT BINARY)"
)
_EMPTY_BATCH = f"DELETE FROM {_BATCH_TABLE}"  # noqa: S608 - a constant name


def _claim_and_insert(batch: sa.FromClause) -> sa.Insert:
    """The PostgreSQL write of a batch of rows (``batch``: the columns of :class:`EventRow`
    and ``ord``, their order): each row numbered from the events' sequence in order, its slot
    claimed in ``usage_slots`` (in slot order, so that concurrent writers lock slots in one
    order), and the rows whose claim was taken inserted; returns their slots. A slot claimed
    meanwhile by a concurrent writer waits for its transaction, then is left out. One
    statement: the claims and the rows commit together or not at all."""
    numbered = (
        sa.select(*(batch.c[name] for name in _INSERT_COLUMNS), _SEQ.next_value().label("seq"))
        .order_by(batch.c.ord)
        .cte("numbered")
    )
    slot_columns = [c.name for c in usage_slots.c]
    claimed = (
        postgresql.insert(usage_slots)
        .from_select(
            slot_columns,
            sa.select(*(numbered.c[name] for name in slot_columns)).order_by(numbered.c.dedup_slot),
        )
        .on_conflict_do_nothing(index_elements=["dedup_slot"])
        .returning(usage_slots.c.dedup_slot, usage_slots.c.seq)
        .cte("claimed")
    )
    rows = (
        sa.select(numbered.c.seq, *(numbered.c[name] for name in _INSERT_COLUMNS))
        .join(
            claimed,
            sa.and_(claimed.c.dedup_slot == numbered.c.dedup_slot, claimed.c.seq == numbered.c.seq),
        )
        .order_by(numbered.c.seq)
    )
    return (
        usage_events.insert()
        .add_cte(numbered, claimed)
        .from_select(["seq", *_INSERT_COLUMNS], rows)
        .returning(usage_events.c.dedup_slot)
    )


_UNNESTED = (
    sa.func.unnest(
        *(sa.bindparam(name, type_=postgresql.ARRAY(_PG_TYPES[name])) for name in _INSERT_COLUMNS)
    )
    .table_valued(*_INSERT_COLUMNS, with_ordinality="ord")
    .render_derived(name="batch")
)
#: a batch below :data:`COPY_ROWS`: its columns as arrays, one statement
_INSERT_PG = _claim_and_insert(_UNNESTED)
#: a batch of :data:`COPY_ROWS` or more: copied into a temporary table first
_INSERT_COPIED_PG = _claim_and_insert(
    sa.table(_BATCH_TABLE, *(sa.column(name) for name in (*_INSERT_COLUMNS, "ord")))
)


def _sqlite_sql(statement: sa.ClauseElement, *, literal: bool = False) -> str:
    """SQLite's text of ``statement`` (``literal``: its constants written in, not bound)."""
    options = {"literal_binds": True} if literal else {}
    return str(statement.compile(dialect=sqlite.dialect(), compile_kwargs=options))


# The SQLite hot path runs these on the DBAPI cursor inside SQLAlchemy's transaction: they
# are compiled once from the Core tables, and skipping SQLAlchemy's per-statement and per-row
# processing halves the writer's CPU time (see docs/benchmarks.md).
_SQLITE_VERSION = _sqlite_sql(_VERSION_QUERY)
_SQLITE_STORED_KEYS = _sqlite_sql(
    sa.union_all(
        sa.select(*_KEY_COLUMNS).where(usage_events.c.dedup_slot.in_(_SLOTS_FROM_JSON)),
        sa.select(*_VOIDED_KEY_COLUMNS).where(voided_events.c.dedup_slot.in_(_SLOTS_FROM_JSON)),
        sa.select(*_ARCHIVED_KEY_COLUMNS).where(archived_slots.c.dedup_slot.in_(_SLOTS_FROM_JSON)),
    )
)
#: a row whose slot is free is inserted, one whose slot is taken is skipped (any other
#: constraint still fails the statement)
_SQLITE_INSERT = _sqlite_sql(
    sqlite.insert(usage_events)
    .values({name: sa.bindparam(name) for name in _INSERT_COLUMNS})
    .on_conflict_do_nothing(index_elements=["dedup_slot"])
)
#: one row numbered explicitly: the first after a usage mark above every stored event
_SQLITE_INSERT_AT = _sqlite_sql(
    sqlite.insert(usage_events)
    .values({name: sa.bindparam(name) for name in ("seq", *_INSERT_COLUMNS)})
    .on_conflict_do_nothing(index_elements=["dedup_slot"])
)
_SQLITE_TOP_SEQ = _sqlite_sql(
    sa.select(sa.func.coalesce(sa.func.max(usage_events.c.seq), 0)), literal=True
)
#: the slots of the rows numbered above ``top``, as one JSON array (one step, not one a row)
_SQLITE_SLOTS_ABOVE = _sqlite_sql(
    sa.select(sa.func.json_group_array(usage_events.c.dedup_slot)).where(
        usage_events.c.seq > sa.bindparam("top")
    )
)
#: a row when some slot is claimed outside ``usage_events`` (a voided or an archived event)
_SQLITE_ANY_HELD_ELSEWHERE = _sqlite_sql(
    sa.select(sa.literal(1)).where(
        sa.or_(sa.exists().select_from(voided_events), sa.exists().select_from(archived_slots))
    ),
    literal=True,
)
_SQLITE_SLOTS_HELD_ELSEWHERE = _sqlite_sql(
    sa.union_all(
        sa.select(voided_events.c.dedup_slot).where(
            voided_events.c.dedup_slot.in_(_SLOTS_FROM_JSON)
        ),
        sa.select(archived_slots.c.dedup_slot).where(
            archived_slots.c.dedup_slot.in_(_SLOTS_FROM_JSON)
        ),
    )
)
_SQLITE_ABOVE_MARK = _sqlite_sql(SQLITE_ABOVE_MARK, literal=True)


class _TenantCache:
    """The tenant → owner map, reloaded when ``identity_state.version`` moves."""

    def __init__(self) -> None:
        self.version: int | None = None
        self.owners: dict[str, TenantOwner] = {}

    def refresh(self, conn: sa.Connection, version: int) -> dict[str, TenantOwner]:
        if version != self.version:
            rows = conn.execute(_OWNERS_QUERY)
            self.owners = {value: TenantOwner(cid, tz) for value, cid, tz in rows}
            self.version = version
        return self.owners


class _UsageTransaction:
    """What both backends share: tenant owners from the cache, dead letters through Core."""

    def __init__(
        self, conn: sa.Connection, tenants: _TenantCache, news: CaseNews | None = None
    ) -> None:
        self._conn = conn
        self._tenants = tenants
        self._news = news
        self._owners: dict[str, TenantOwner] | None = None

    def _version(self) -> int:
        return int(self._conn.execute(_VERSION_QUERY).scalar_one_or_none() or 0)

    def tenant_owners(self, tenants: Collection[str]) -> Mapping[str, TenantOwner]:
        if self._owners is None:
            self._owners = self._tenants.refresh(self._conn, self._version())
        owners = self._owners
        return {t: owners[t] for t in tenants if t in owners}

    def insert_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        SqlDeadLetterStore(self._conn).add(letters)

    def open_unmapped_cases(self, tenants: Collection[str], at: datetime) -> None:
        open_unmapped_cases(self._conn, sorted(tenants), at, self._news)


class SqliteUsageTransaction(_UsageTransaction):
    """SQLite: one writer holds the lock (``BEGIN IMMEDIATE``), so a free slot stays free."""

    def __init__(
        self, conn: sa.Connection, tenants: _TenantCache, news: CaseNews | None = None
    ) -> None:
        super().__init__(conn, tenants, news)
        self._cursor = conn.connection.cursor()
        self._numbered = False  # whether the first row has been placed above the latest mark
        # whether any slot is held by a voided or an archived event (read once)
        self._held_elsewhere: bool | None = None

    def _version(self) -> int:
        row = self._cursor.execute(_SQLITE_VERSION).fetchone()
        return int(row[0]) if row else 0

    def stored_keys(self, slots: Collection[int]) -> Mapping[int, StoredKey]:
        if not slots:
            return {}
        wanted = json.dumps(list(slots))
        rows = self._cursor.execute(_SQLITE_STORED_KEYS, (wanted, wanted, wanted)).fetchall()
        return {slot: StoredKey(source, eid, fp) for slot, source, eid, fp in rows}

    def insert_events(self, rows: Sequence[EventRow]) -> Collection[int]:
        if not rows:
            return set()
        cursor = self._cursor
        rest = self._not_held_elsewhere(rows)
        inserted: set[int] = set()
        if not self._numbered:
            # SQLite numbers a row one above the highest left: after a usage mark above them
            # all (an attach or a void since the last event), the first row goes above it
            self._numbered = True
            above = cursor.execute(_SQLITE_ABOVE_MARK).fetchone()
            while above is not None and rest:
                first, rest = rest[0], rest[1:]
                if cursor.execute(_SQLITE_INSERT_AT, (int(above[0]) + 1, *first)).rowcount:
                    inserted.add(first.slot)
                    break
        if rest:
            top = cursor.execute(_SQLITE_TOP_SEQ).fetchone()[0]
            cursor.executemany(_SQLITE_INSERT, rest)
            if cursor.rowcount == len(rest):
                inserted.update(row.slot for row in rest)
            else:  # some slots were taken: the rows numbered above the top are those written
                written = cursor.execute(_SQLITE_SLOTS_ABOVE, (top,)).fetchone()[0]
                inserted.update(json.loads(written))
        return inserted

    def _not_held_elsewhere(self, rows: Sequence[EventRow]) -> Sequence[EventRow]:
        """The rows whose slot no voided or archived event holds (they keep their claims in
        ``voided_events`` and ``archived_slots``, which the unique slot of ``usage_events``
        does not see)."""
        cursor = self._cursor
        if self._held_elsewhere is None:  # voids and archives change only under our write lock
            found = cursor.execute(_SQLITE_ANY_HELD_ELSEWHERE).fetchone()
            self._held_elsewhere = found is not None
        if not self._held_elsewhere:
            return rows
        wanted = json.dumps([row.slot for row in rows])
        held = {slot for (slot,) in cursor.execute(_SQLITE_SLOTS_HELD_ELSEWHERE, (wanted, wanted))}
        return [row for row in rows if row.slot not in held] if held else rows


class PostgresUsageTransaction(_UsageTransaction):
    """PostgreSQL: writers run concurrently; a slot taken meanwhile is left out of the result."""

    def stored_keys(self, slots: Collection[int]) -> Mapping[int, StoredKey]:
        if not slots:
            return {}
        rows = self._conn.execute(STORED_KEYS_PG, {"slots": list(slots)})
        return {slot: StoredKey(source, eid, bytes(fp)) for slot, source, eid, fp in rows}

    def insert_events(self, rows: Sequence[EventRow]) -> Collection[int]:
        if not rows:
            return ()
        if len(rows) >= COPY_ROWS:
            return self._copy_events(rows)
        columns = dict(zip(_INSERT_COLUMNS, map(list, zip(*rows, strict=True)), strict=True))
        return set(self._conn.execute(_INSERT_PG, columns).scalars())

    def _copy_events(self, rows: Sequence[EventRow]) -> Collection[int]:
        """A large batch: COPY into a temporary table (emptied at commit), then the same claim
        and insert as a small one, from that table."""
        cursor = self._conn.connection.cursor()
        try:
            cursor.execute(_CREATE_BATCH)
            cursor.execute(_EMPTY_BATCH)  # an earlier batch of this transaction
            with cursor.copy(_COPY_BATCH) as copy:
                copy.set_types(_COPY_TYPES)
                for position, row in enumerate(rows):
                    copy.write_row((*row, position))
        finally:
            cursor.close()
        return set(self._conn.execute(_INSERT_COPIED_PG).scalars())


#: how many more times a step is tried after PostgreSQL ends its transaction to resolve a
#: deadlock, a serialization conflict or a claim that waited too long
_CONFLICT_RETRIES = 3
#: SQLSTATEs of those: deadlock_detected, serialization_failure, lock_not_available
_CONFLICTS = frozenset({"40P01", "40001", "55P03"})
#: PostgreSQL: how long a first try waits for a lock (a slot another process is claiming in a
#: transaction not yet committed) before it gives up and is tried again in turn — well below
#: the second PostgreSQL waits before it looks for a deadlock
_FIRST_TRY_LOCK_TIMEOUT = "50ms"
#: advisory lock a try again takes (PostgreSQL): the writers tried again claim one at a time
SLOTS_LOCK = 0x736C6F74  # "slot"


def _conflict(error: Exception) -> bool:
    """True when the database rolled the transaction back only because of another one."""
    return getattr(getattr(error, "orig", None), "sqlstate", None) in _CONFLICTS


class SqlUsageLedger:
    """:class:`~revsync.ports.usage.UsageLedger` with a group-committing writer thread."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_group: int = 32,
        failpoints: Failpoints = NONE,
        case_news: CaseNews | None = None,
    ) -> None:
        self._engine = engine
        self._news = case_news
        self._max_group = max_group
        self._failpoints = failpoints
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._tenants = _TenantCache()
        self._thread: threading.Thread | None = None
        self._conn: sa.Connection | None = None
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, step: Callable[[UsageTransaction], T]) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the usage ledger is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="usage-ledger", daemon=True)
                self._thread.start()
            self._queue.put(_Job(step, future))
        return future

    def close(self) -> None:
        """Finish the queued steps and stop the writer thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                self._release()
                return
            group = [first]
            stop = False
            while len(group) < self._max_group:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                group.append(job)
            self._commit_group(group)
            if stop:
                self._release()
                return

    def _release(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _commit_group(self, group: list[_Job], tries: int = 1) -> None:
        try:
            results = self._transaction(group, in_turn=tries > 1)
        except Exception as error:  # noqa: BLE001 - isolate the failing step, report it to its caller
            if _conflict(error) and tries <= _CONFLICT_RETRIES:
                # PostgreSQL: a claim waited for a slot another process holds uncommitted,
                # or two writers claiming the same slots in two orders deadlocked: nothing was
                # written; each step is tried again in turn and finds the other's claims
                log.info("usage write conflict; trying again", error=str(error), tries=tries)
                for job in group:
                    self._commit_group([job], tries + 1)
                return
            if len(group) == 1:
                log.warning("usage write failed", error=str(error))
                group[0].future.set_exception(error)
                return
            log.warning("usage group write failed; retrying step by step", steps=len(group))
            for job in group:
                self._commit_group([job])
            return
        for job, result in zip(group, results, strict=True):
            job.future.set_result(result)

    def _transaction(self, group: list[_Job], *, in_turn: bool = False) -> list[Any]:
        """The group's steps in one transaction. PostgreSQL: a first try gives up on a lock
        it waits for long (see :data:`_FIRST_TRY_LOCK_TIMEOUT`); a try again (``in_turn``)
        waits as long as it must, one process at a time (:data:`SLOTS_LOCK`), so tries again
        cannot deadlock each other and first tries give way to them."""
        conn = self._writer_connection()
        try:
            with conn.begin():
                tx: SqliteUsageTransaction | PostgresUsageTransaction
                if is_sqlite(self._engine):
                    tx = SqliteUsageTransaction(conn, self._tenants, self._news)
                else:
                    if in_turn:
                        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(SLOTS_LOCK)))
                    else:
                        conn.exec_driver_sql(
                            f"SET LOCAL lock_timeout = '{_FIRST_TRY_LOCK_TIMEOUT}'"
                        )
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock_shared(IDENTITY_LOCK)))
                    tx = PostgresUsageTransaction(conn, self._tenants, self._news)
                results = [job.step(tx) for job in group]
                self._failpoints.hit("ledger.before_commit")
        except Exception:
            self._drop_connection()
            raise
        return results

    def _writer_connection(self) -> sa.Connection:
        """The writer thread keeps one connection (a fresh one after any failure)."""
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(**WRITE)
            if is_sqlite(self._engine):
                # the dedup index is read and written at random: keep it in memory (128 MB)
                self._conn.connection.cursor().execute("PRAGMA cache_size=-131072")
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.invalidate()
            self._conn.close()
            self._conn = None

"""The hot queries use the indexes meant for them, on both backends: the statements are those
the code emits (captured while the real method runs), explained on a database of some 24,000
events over four months (1,000 of them voided), 300 customers, 3,000 outbox messages and
3,000 invoices, analyzed.
The planner chooses freely (no ``enable_seqscan = off``). On PostgreSQL a read of one month
touches that month's table only (partition pruning).

SQLite: ``EXPLAIN QUERY PLAN`` names the index (``USING INDEX``, ``USING COVERING INDEX``,
``USING INTEGER PRIMARY KEY``). PostgreSQL: ``EXPLAIN (FORMAT JSON)``, each scan node with its
table and index; an index of a month's table is named by the index of ``usage_events`` it
belongs to."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event as sa_event

from revsync.adapters.db.engine import create_db_engine
from revsync.adapters.db.repositories import SqlUnitOfWork, SqlUsageMaintenance
from revsync.adapters.db.tables import customer_refs, customers, invoices, outbox_messages
from revsync.adapters.db.usage_ledger import SqlUsageLedger
from revsync.adapters.db.usage_reader import SqlUsageReader
from revsync.adapters.db.usage_snapshot import SqlUsageSnapshots
from revsync.adapters.db.usage_storage import SqlUsageStorage
from revsync.application.ingestion import IngestContext, Ingestion, IngestPolicy
from revsync.domain.delivery import MessageStatus
from revsync.domain.usage import dedup_slot, to_micros
from revsync.domain.usage_months import Month
from revsync.ports.billing import AggregateSpec, InvoiceFilter
from revsync.ports.delivery import NewMessage
from revsync.schemas.cloudevents_v1 import decode_items
from tests.conftest import NOW
from tests.support.clock import FrozenClock, utc
from tests.support.databases import pg_copy, pg_drop, sqlite_copy
from tests.support.events import encode, event

pytestmark = pytest.mark.xdist_group("query-plans")

CUSTOMERS = 300
EVENTS = 24_000
FIRST = utc(2026, 8, 1)
OCTOBER = (to_micros(utc(2026, 10, 1)), to_micros(utc(2026, 11, 1)))
OCTOBER_10 = (to_micros(utc(2026, 10, 10)), to_micros(utc(2026, 10, 11)))
NOVEMBER = (to_micros(utc(2026, 11, 1)), to_micros(NOW))
#: more than a billing read probes one by one (``usage_snapshot._FEW_CUSTOMERS``)
MANY = [f"c-{n}" for n in range(250)]


@dataclass(frozen=True)
class Scan:
    """One table read in a plan: how, of which table, through which index."""

    how: str
    table: str
    index: str | None
    alias: str = ""


@dataclass
class Database:
    """The loaded database, with the statements its engine ran since the last ``capture``."""

    engine: sa.Engine
    statements: list[tuple[str, Any]] = field(default_factory=list)
    #: PostgreSQL: the index of a month's table → the index of usage_events it belongs to;
    #: SQLite: the index of a UNIQUE constraint → the constraint's name
    parents: dict[str, str] = field(default_factory=dict)
    #: the tables without a row (a plan may read them as it likes)
    empty: set[str] = field(default_factory=set)

    @property
    def sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def capture(self) -> Iterator[list[tuple[str, Any]]]:
        self.statements.clear()
        yield self.statements

    def scans(self, statement: tuple[str, Any]) -> list[Scan]:
        """The tables a statement reads, as its plan reads them."""
        sql, parameters = statement
        with self.engine.connect() as conn:
            if self.sqlite:
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
                found = [_sqlite_scan(row[3]) for row in rows if row[3].split()[0] in _READS]
                # json_each: the list of slots the statement is given
                return [
                    Scan(s.how, s.table, self.parents.get(s.index or "", s.index), s.alias)
                    for s in found
                    if s.table != "json_each"
                ]
            [plan] = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}", parameters).scalar()
        return list(_pg_scans(plan["Plan"], self.parents))

    def only(self, found: list[tuple[str, Any]], text: str) -> tuple[str, Any]:
        [statement] = [s for s in found if text in s[0]]
        return statement


_READS = ("SCAN", "SEARCH")


def _sqlite_scan(detail: str) -> Scan:
    # e.g. "SEARCH usage_events USING INDEX ix_usage_events_day_customer (day=? AND …)"
    words = detail.split()
    index = None
    if "INTEGER" in words and "PRIMARY" in words:
        index = "INTEGER PRIMARY KEY"
    elif "INDEX" in words:
        index = words[words.index("INDEX") + 1]
    return Scan(words[0], words[1], index, words[1])


def _pg_scans(node: dict[str, Any], parents: dict[str, str]) -> Iterator[Scan]:
    children = node.get("Plans", ())
    if "Relation Name" in node:
        index = node.get("Index Name")
        if node["Node Type"] == "Bitmap Heap Scan":  # the index is its Bitmap Index Scan's
            [index] = {c["Index Name"] for c in _descendants(node) if "Index Name" in c}
            children = ()
        table, alias = node["Relation Name"], node.get("Alias", "")
        yield Scan(node["Node Type"], table, parents.get(index, index), alias)
    for child in children:
        yield from _pg_scans(child, parents)


def _descendants(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for child in node.get("Plans", ()):
        yield child
        yield from _descendants(child)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def db(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    if request.param == "sqlite":
        url, drop = sqlite_copy(sqlite_template, tmp_path_factory.mktemp("plans")), None
    else:
        name, url = pg_copy(request.getfixturevalue("pg_template"))
        drop = name
    engine = create_db_engine(url, pool_size=2)
    loaded = Database(engine)
    _listen(loaded)
    try:
        _load(loaded)
        yield loaded
    finally:
        engine.dispose()
        if drop is not None:
            pg_drop(drop)


def _listen(db: Database) -> None:
    if db.sqlite:  # the hot reads run on the DBAPI cursor: SQLite's trace sees them all

        def connected(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.set_trace_callback(lambda sql: db.statements.append((sql, None)))

        sa_event.listen(db.engine, "connect", connected)
        return

    def executed(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        db.statements.append((statement, parameters))

    sa_event.listen(db.engine, "before_cursor_execute", executed)


def _load(db: Database) -> None:
    engine = db.engine
    if not db.sqlite:  # this month's tables, as the worker makes them
        storage = SqlUsageStorage(engine)
        for month in (Month(2026, 8).plus(n) for n in range(5)):
            storage.add_month(month)
    with engine.begin() as conn:
        conn.execute(
            customers.insert(),
            [
                {
                    "id": f"c-{n}",
                    "name": f"Customer {n}",
                    "currency": "EUR",
                    "timezone": "UTC",
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for n in range(CUSTOMERS)
            ],
        )
        conn.execute(
            customer_refs.insert(),
            [
                {"system": "product", "value": f"t-{n}", "customer_id": f"c-{n}"}
                for n in range(CUSTOMERS)
            ],
        )
        conn.execute(invoices.insert(), list(_invoices()))
    _ingest(engine)
    with engine.begin() as conn:  # a correction voided one event in 24
        keys = [("app://test", f"e-{n}") for n in range(0, EVENTS, 24)]
        assert SqlUsageMaintenance(conn).void_events(keys, "corr-1", NOW).voided
    _messages(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
        if db.sqlite:
            for table in ("usage_events", "voided_events"):
                for _, name, _, origin, _ in conn.exec_driver_sql(f"PRAGMA index_list({table})"):
                    if origin == "u":
                        columns = [r[2] for r in conn.exec_driver_sql(f"PRAGMA index_info({name})")]
                        db.parents[name] = f"uq_{table}_{'_'.join(columns)}"
            return
        db.parents.update(
            conn.exec_driver_sql(
                "SELECT c.relname, p.relname FROM pg_inherits i"
                " JOIN pg_class c ON c.oid = i.inhrelid"
                " JOIN pg_class p ON p.oid = i.inhparent WHERE c.relkind = 'i'"
            ).all()
        )
        for (table,) in conn.exec_driver_sql(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'usage_events'::regclass"
        ).all():
            if not conn.exec_driver_sql(f"SELECT EXISTS (SELECT FROM {table})").scalar():
                db.empty.add(table)


def _ingest(engine: sa.Engine) -> None:
    """Events in time order (as they arrive), one every ~6 minutes over 106 days; one in 50
    of a tenant nobody has mapped."""
    ledger = SqlUsageLedger(engine)
    ingestion = Ingestion(ledger, FrozenClock(NOW), [], IngestPolicy())
    step = (NOW - timedelta(days=1) - FIRST) / EVENTS
    numbers = iter(range(EVENTS))
    try:
        while chunk := list(itertools.islice(numbers, 2000)):
            batch = [
                event(
                    f"e-{n}",
                    subject=f"ghost-{n // 50 % 30}" if n % 50 == 0 else f"t-{n * 7 % CUSTOMERS}",
                    type="llm.completion" if n % 5 == 0 else "api.request",
                    time=FIRST + step * n,
                    data={"n": n},
                )
                for n in chunk
            ]
            report = ingestion.ingest(decode_items([encode(e) for e in batch]), _CONTEXT)
            assert report.accepted == len(batch)
    finally:
        ledger.close()


_CONTEXT = IngestContext("api", "test")


def _invoices() -> Iterator[dict[str, Any]]:
    zero = Decimal("0")
    for n in range(3000):
        start = (FIRST - timedelta(days=31 * (n // CUSTOMERS))).date().replace(day=1)
        yield {
            "id": f"inv-{n:05d}",
            "customer_id": f"c-{n % CUSTOMERS}",
            "subscription_id": f"s-{n % CUSTOMERS}",
            "kind": "arrears",
            "period_start": start,
            "period_end": start + timedelta(days=28),
            "currency": "EUR",
            "status": "paid",
            "issue_date": start + timedelta(days=28),
            **dict.fromkeys(("subtotal", "discount", "tax", "total", "credits"), zero),
            "created_at": NOW,
            "updated_at": NOW,
        }


def _messages(engine: sa.Engine) -> None:
    """3,000 messages to two destinations: 2,400 delivered, then a backlog of 600 pending,
    two per aggregate, whose 30 oldest are due (the others wait for their next attempt)."""
    with SqlUnitOfWork(engine, NOW) as uow:
        uow.outbox.add(
            [
                NewMessage(
                    "erp" if n % 3 else "crm",
                    f"customer:c-{n % CUSTOMERS}",
                    "invoice.finalized",
                    "invoice",
                    f"inv-{n:05d}",
                    f"key-{n}",
                    {"n": n},
                )
                for n in range(3000)
            ],
            NOW - timedelta(hours=1),
        )
        uow.commit()
    m = outbox_messages.c
    first = sa.select(sa.func.min(m.id)).scalar_subquery()
    with engine.begin() as conn:
        conn.execute(
            outbox_messages.update()
            .where(m.id < first + 2400)
            .values(status=MessageStatus.DELIVERED.value, delivered_at=NOW)
        )
        conn.execute(
            outbox_messages.update()
            .where(m.id >= first + 2430)
            .values(next_attempt_at=NOW + timedelta(hours=1))
        )


# --- the billing reads (usage_snapshot.py) ------------------------------------------------


def _read(db: Database, read: Callable[[Any], Any]) -> list[tuple[str, Any]]:
    with db.capture() as found, SqlUsageSnapshots(db.engine).snapshot() as snapshot:
        result = read(snapshot)
        if hasattr(result, "__next__"):
            list(result)
    return [s for s in found if "usage_events" in s[0]]


def test_a_billing_read_of_a_few_customers_probes_the_day_customer_index(db: Database) -> None:
    found = _read(
        db,
        lambda s: s.rows(
            ["c-7", "c-8", "c-9"], "api.request", *OCTOBER, with_data=True, with_key=False
        ),
    )
    scans = db.scans(db.only(found, "customer_id IN"))
    assert {s.index for s in scans} == {"ix_usage_events_day_customer"}, scans
    if not db.sqlite:  # October's table only
        assert {s.table for s in scans} == {"usage_events_2026_10"}, scans


def test_a_billing_read_of_many_customers_reads_its_stretch_of_ingest_order(db: Database) -> None:
    found = _read(
        db, lambda s: s.rows(MANY, "api.request", *OCTOBER, with_data=True, with_key=False)
    )
    bounds = db.scans(db.only(found, "min("))
    stretch = db.scans(db.only(found, "seq BETWEEN"))
    if db.sqlite:
        assert {s.index for s in bounds} == {"ix_usage_events_day_customer"}, bounds
        assert {s.index for s in stretch} == {"INTEGER PRIMARY KEY"}, stretch
        return
    # the stretch of October's days, and the stretch itself: October's table only (all of it
    # is wanted: read as the planner likes)
    assert {s.table for s in bounds} == {"usage_events_2026_10"}, bounds
    assert {s.table for s in stretch} == {"usage_events_2026_10"}, stretch


def test_a_billing_aggregate_reads_as_the_rows_read(db: Database) -> None:
    """The SQL aggregate of a meter (usage_aggregates.py) reads the events as the rows are
    read: a few customers in the day-customer index, many in their stretch of ingest order;
    on PostgreSQL October's table only."""
    spec = AggregateSpec("sum", ("n",), (), None)
    few = _read(db, lambda s: s.aggregates(["c-7", "c-8"], "api.request", *OCTOBER, spec))
    # (the outer select reads the inner one, "events", as it comes)
    scans = [s for s in db.scans(db.only(few, "customer_id IN")) if s.table != "events"]
    assert {s.index for s in scans} == {"ix_usage_events_day_customer"}, scans
    many = _read(db, lambda s: s.aggregates(MANY, "api.request", *OCTOBER, spec))
    stretch = [s for s in db.scans(db.only(many, "seq BETWEEN")) if s.table != "events"]
    if db.sqlite:
        assert {s.index for s in stretch} == {"INTEGER PRIMARY KEY"}, stretch
        return
    assert {s.table for s in scans} == {"usage_events_2026_10"}, scans
    assert {s.table for s in stretch} == {"usage_events_2026_10"}, stretch


def test_a_billing_read_of_one_day_of_many_customers_takes_the_primary_key(db: Database) -> None:
    found = _read(
        db, lambda s: s.rows(MANY, "api.request", *OCTOBER_10, with_data=False, with_key=False)
    )
    stretch = db.scans(db.only(found, "seq BETWEEN"))
    if db.sqlite:
        assert {s.index for s in stretch} == {"INTEGER PRIMARY KEY"}, stretch
        return
    assert {s.table for s in stretch} == {"usage_events_2026_10"}, stretch
    assert {s.index for s in stretch} == {"pk_usage_events"}, stretch


def test_late_events_are_read_by_ingest_order(db: Database) -> None:
    with db.engine.connect() as conn:
        top = conn.execute(sa.text("SELECT max(seq) FROM usage_events")).scalar_one()
    with db.capture() as found, SqlUsageSnapshots(db.engine).snapshot() as snapshot:
        snapshot.late_customers(top - 200)
    scans = db.scans(db.only(found, "min(usage_events.time_us)"))
    if db.sqlite:
        assert {s.index for s in scans} == {"INTEGER PRIMARY KEY"}, scans
        return
    # no month can be left out (ingest order is not time), but each is read in its key
    assert {s.index for s in scans if s.table not in db.empty} == {"pk_usage_events"}, scans


def test_an_entitlement_read_probes_the_day_customer_index(db: Database) -> None:
    found = _read(db, lambda s: s.customer_counts(["c-7"], "api.request", *NOVEMBER))
    scans = db.scans(db.only(found, "count("))
    assert {s.index for s in scans} == {"ix_usage_events_day_customer"}, scans
    if not db.sqlite:
        assert {s.table for s in scans} == {"usage_events_2026_11"}, scans


# --- ingestion, unmapped usage, the relay, invoices ---------------------------------------


def test_the_dedup_claim_is_looked_up_in_its_unique_index(db: Database) -> None:
    # a request's worth of events (a table of millions would take thousands the same way)
    ledger = SqlUsageLedger(db.engine)
    slots = {dedup_slot("app://test", f"e-{n}") for n in range(0, 20_000, 1000)}
    try:
        with db.capture() as found:
            held = ledger.submit(lambda tx: tx.stored_keys(slots)).result()
    finally:
        ledger.close()
    assert len(held) == len(slots)
    if db.sqlite:
        scans = db.scans(db.only(found, "dedup_slot IN"))
        assert {(s.table, s.index) for s in scans} == {
            ("usage_events", "uq_usage_events_dedup_slot"),
            ("voided_events", "uq_voided_events_dedup_slot"),
            ("archived_slots", "INTEGER PRIMARY KEY"),
        }, scans
        return
    scans = db.scans(db.only(found, "FROM usage_slots"))
    assert {(s.table, s.index) for s in scans} == {("usage_slots", "pk_usage_slots")}, scans


def test_the_unmapped_tenants_are_read_in_their_partial_index(db: Database) -> None:
    with db.capture() as found:
        tenants = SqlUsageReader(db.engine).unmapped(after=None, limit=50)
    assert len(tenants) == 30
    scans = db.scans(db.only(found, "customer_id IS NULL"))
    assert {s.index for s in scans} == {"ix_usage_events_unmapped"}, scans


def test_the_relay_claims_due_messages_through_the_due_index(db: Database) -> None:
    with db.capture() as found, SqlUnitOfWork(db.engine, NOW) as uow:
        claimed = uow.outbox.claim(NOW, "relay-1", NOW + timedelta(minutes=1), {"erp": 10})
    assert len(claimed) == 10
    pending = db.scans(db.only(found, "outbox_messages.next_attempt_at <="))
    due = {s.index for s in pending if s.alias == "outbox_messages"}
    assert due == {"ix_outbox_messages_due"}, pending
    # the head of its aggregate: SQLite probes the partial index of unfinished messages for
    # each due one; PostgreSQL reads the unfinished messages once (an index on status) and
    # anti-joins them
    heads = [s for s in pending if s.alias == "h"]
    assert heads and all(s.index is not None for s in heads), pending
    if db.sqlite:
        assert {s.index for s in heads} == {"ix_outbox_messages_aggregate"}, pending


def test_a_customers_invoices_are_read_in_the_customer_index(db: Database) -> None:
    with db.capture() as found, SqlUnitOfWork(db.engine, NOW, write=False) as uow:
        page = uow.invoices.page(InvoiceFilter(customer_id="c-7"), after=None, limit=50)
    assert len(page) == 10
    scans = db.scans(db.only(found, "invoices.customer_id ="))
    assert {(s.table, s.index) for s in scans} == {("invoices", "ix_invoices_customer_period")}, (
        scans
    )


def test_the_events_behind_a_line_are_read_in_their_months_tables(db: Database) -> None:
    """Lineage (``GET /v1/invoices/{id}/lines/{key}/events``), a page at a time in ingest
    order: the live table, the archive (PostgreSQL) and the voided events."""
    with db.engine.connect() as conn:
        top = conn.execute(sa.text("SELECT max(seq) FROM usage_events")).scalar_one()
    reader = SqlUsageReader(db.engine)
    with db.capture() as found:
        listed = list(reader.events(["c-7"], "api.request", *OCTOBER, upto_seq=top, after_seq=0))
    assert listed
    scans = db.scans(db.only(found, "voided_events"))
    live = {(s.table, s.index) for s in scans if s.table.startswith("usage_events")}
    if db.sqlite:  # SQLite walks the ingest order (a page streams, unsorted)
        assert live == {("usage_events", "INTEGER PRIMARY KEY")}, scans
    else:  # October's table only (the archive holds no month here)
        assert {table for table, _ in live} == {"usage_events_2026_10"}, scans
        assert None not in {index for _, index in live}, scans
    voided = {s.index for s in scans if s.table == "voided_events"}
    assert voided == {"ix_voided_events_customer_time"}, scans


def test_a_backlog_due_at_one_instant_is_claimed_in_index_order(any_db_url: str) -> None:
    """A billing run writes its messages at one instant: a relay's claim reads the due index
    in the order it asks for (next attempt, then id) and stops at its limit. With an index on
    the time alone, PostgreSQL sorted the whole backlog for every claim (24 ms a claim at
    20,000 messages, growing with the backlog: a relay slower the longer its queue)."""
    engine = create_db_engine(any_db_url, pool_size=2)
    db = Database(engine)
    _listen(db)
    try:
        with SqlUnitOfWork(engine, NOW) as uow:
            backlog = [
                NewMessage(
                    "erp", f"invoice:{n}", "invoice.finalized", "invoice", f"inv-{n}", f"k-{n}", {}
                )
                for n in range(5000)
            ]
            uow.outbox.add(backlog, NOW - timedelta(minutes=1))
            uow.commit()
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE" if db.sqlite else "ANALYZE outbox_messages")
        with db.capture() as found, SqlUnitOfWork(engine, NOW) as uow:
            claimed = uow.outbox.claim(NOW, "relay-1", NOW + timedelta(minutes=1), {"erp": 10})
        assert [m.object_id for m in claimed] == [f"inv-{n}" for n in range(10)]
        sql, parameters = db.only(found, "outbox_messages.next_attempt_at <=")
        with engine.connect() as conn:
            if db.sqlite:
                plan = [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
                assert not [step for step in plan if "TEMP B-TREE" in step], plan
                return
            [tree] = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}", parameters).scalar()
        nodes = [tree["Plan"], *_descendants(tree["Plan"])]
        assert not [n["Node Type"] for n in nodes if "Sort" in n["Node Type"]], tree
        due = [n for n in nodes if n.get("Alias") == "outbox_messages"]
        assert [n.get("Index Name") for n in due] == ["ix_outbox_messages_due"], tree
    finally:
        engine.dispose()

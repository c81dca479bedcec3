"""SQL repositories and the unit of work (one transaction, taken with the write lock)."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from revsync.adapters.canonical_json import jcs
from revsync.adapters.db.billing_repositories import (
    SqlBillingRunRepository,
    SqlCouponRepository,
    SqlCreditRepository,
    SqlInvoiceRepository,
    SqlPlanRepository,
    SqlSubscriptionRepository,
)
from revsync.adapters.db.collections_repository import SqlCollectionsRepository
from revsync.adapters.db.console_store import SqlConsoleSessionStore
from revsync.adapters.db.crm_repositories import SqlCrmStateRepository
from revsync.adapters.db.deals_repository import SqlDealRepository
from revsync.adapters.db.delivery_repositories import (
    SqlCaseRepository,
    SqlCircuitRepository,
    SqlOutboxRepository,
    _insert,
)
from revsync.adapters.db.engine import IDENTITY_LOCK, WRITE
from revsync.adapters.db.erp_repositories import SqlPostingRepository
from revsync.adapters.db.idempotency import SqlIdempotencyRepository
from revsync.adapters.db.job_repositories import SqlJobRepository
from revsync.adapters.db.kpi_store import SqlKpiStore
from revsync.adapters.db.reconciliation_store import SqlReconciliationStore
from revsync.adapters.db.renewals_repository import SqlRenewalRepository
from revsync.adapters.db.retention_store import SqlRetentionStore
from revsync.adapters.db.schema_store import SqlSchemaStore
from revsync.adapters.db.support_repositories import SqlSupportStateRepository
from revsync.adapters.db.tables import (
    api_keys,
    audit_head,
    audit_log,
    customer_refs,
    customers,
    dead_letters,
    dead_letters_pruned,
    identity_state,
    threshold_rechecks,
    usage_corrections,
    usage_events,
    usage_rechecks,
    usage_slots,
    voided_events,
)
from revsync.adapters.db.threshold_store import SqlThresholdStore
from revsync.adapters.db.usage_marks import lock_for_marks, take_mark
from revsync.application.idempotency import active_claim
from revsync.domain.apikeys import ApiKey, Role
from revsync.domain.audit import (
    AuditChain,
    AuditEntry,
    AuditHead,
    AuditRecord,
    UnreadableEntry,
)
from revsync.domain.identity import Customer, ExternalRef, System
from revsync.domain.problems import Code
from revsync.domain.usage import dedup_slot
from revsync.ports.delivery import CaseNews
from revsync.ports.repositories import DeadLetter, StoredDeadLetter, VoidOutcome

#: the code a quarantined dead letter takes once released
RELEASED = "released"


class SqlCustomerRepository:
    """Customers and the identity map."""

    def __init__(self, conn: sa.Connection, now: datetime) -> None:
        self._conn = conn
        self._now = now

    def get(self, customer_id: str) -> Customer | None:
        row = self._conn.execute(sa.select(customers).where(customers.c.id == customer_id)).first()
        return None if row is None else self._with_refs([row])[0]

    def many(self, customer_ids: Collection[str]) -> list[Customer]:
        ids = sorted(customer_ids)
        found: list[Customer] = []
        for start in range(0, len(ids), 900):
            query = sa.select(customers).where(customers.c.id.in_(ids[start : start + 900]))
            found += self._with_refs(list(self._conn.execute(query)))
        return found

    def with_system(self, system: System) -> list[Customer]:
        query = sa.select(customer_refs.c.customer_id).where(customer_refs.c.system == system.value)
        return sorted(self.many(set(self._conn.execute(query).scalars())), key=lambda c: c.id)

    def page(self, *, after: str | None, limit: int) -> list[Customer]:
        query = sa.select(customers).order_by(customers.c.id).limit(limit)
        if after is not None:
            query = query.where(customers.c.id > after)
        return self._with_refs(list(self._conn.execute(query)))

    def find_by_ref(self, ref: ExternalRef) -> Customer | None:
        owner = self.owners_of([ref]).get(ref)
        return None if owner is None else self.get(owner)

    def owners_of(self, refs: Collection[ExternalRef]) -> dict[ExternalRef, str]:
        owners: dict[ExternalRef, str] = {}
        for system in {ref.system for ref in refs}:
            values = [ref.value for ref in refs if ref.system is system]
            query = sa.select(customer_refs.c.value, customer_refs.c.customer_id).where(
                customer_refs.c.system == system.value, customer_refs.c.value.in_(values)
            )
            owners.update({ExternalRef(system, v): cid for v, cid in self._conn.execute(query)})
        return owners

    def parent_of(self, customer_id: str) -> str | None:
        query = sa.select(customers.c.parent_id).where(customers.c.id == customer_id)
        parent: str | None = self._conn.execute(query).scalar_one_or_none()
        return parent

    def descendants_of(self, customer_id: str) -> list[str]:
        found: list[str] = []
        frontier = [customer_id]
        while frontier:
            query = sa.select(customers.c.id).where(customers.c.parent_id.in_(frontier))
            frontier = [cid for cid in self._conn.execute(query).scalars() if cid not in found]
            found.extend(frontier)
        return found

    def lock_identity(self) -> None:
        # SQLite: the unit of work already holds the write lock (BEGIN IMMEDIATE).
        if self._conn.dialect.name == "postgresql":
            self._conn.execute(sa.select(sa.func.pg_advisory_xact_lock(IDENTITY_LOCK)))

    def save(self, customer: Customer) -> None:
        values = {
            "name": customer.name,
            "currency": customer.currency,
            "timezone": customer.timezone,
            "parent_id": customer.parent_id,
            "country": customer.country,
            "tax_exempt": customer.tax_exempt,
            "updated_at": self._now,
        }
        updated = self._conn.execute(
            customers.update().where(customers.c.id == customer.id).values(**values)
        )
        if updated.rowcount == 0:
            self._conn.execute(
                customers.insert().values(id=customer.id, created_at=self._now, **values)
            )
        self._replace_refs(customer)

    def _replace_refs(self, customer: Customer) -> None:
        query = sa.select(customer_refs.c.system, customer_refs.c.value).where(
            customer_refs.c.customer_id == customer.id
        )
        current = {ExternalRef(System(s), v) for s, v in self._conn.execute(query)}
        wanted = set(customer.refs)
        for ref in current - wanted:
            self._conn.execute(
                customer_refs.delete().where(
                    customer_refs.c.system == ref.system.value, customer_refs.c.value == ref.value
                )
            )
        added = wanted - current
        if added:
            self._conn.execute(
                customer_refs.insert(),
                [
                    {"system": r.system.value, "value": r.value, "customer_id": customer.id}
                    for r in added
                ],
            )
        if current != wanted:
            self._conn.execute(identity_state.update().values(version=identity_state.c.version + 1))

    def _with_refs(self, rows: Sequence[sa.Row[Any]]) -> list[Customer]:
        ids = [row.id for row in rows]
        refs: dict[str, list[ExternalRef]] = {cid: [] for cid in ids}
        if ids:
            query = (
                sa.select(customer_refs)
                .where(customer_refs.c.customer_id.in_(ids))
                .order_by(customer_refs.c.system, customer_refs.c.value)
            )
            for ref in self._conn.execute(query):
                refs[ref.customer_id].append(ExternalRef(System(ref.system), ref.value))
        return [
            Customer(
                id=row.id,
                name=row.name,
                currency=row.currency,
                timezone=row.timezone,
                parent_id=row.parent_id,
                refs=tuple(refs[row.id]),
                country=row.country,
                tax_exempt=row.tax_exempt,
            )
            for row in rows
        ]


class SqlApiKeyRepository:
    """API keys, stored hashed."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def add(self, key: ApiKey, key_hash: str) -> None:
        self._conn.execute(
            api_keys.insert().values(
                id=key.id,
                name=key.name,
                prefix=key.prefix,
                key_hash=key_hash,
                scopes=" ".join(sorted(r.value for r in key.roles)),
                customers=" ".join(sorted(key.customers)) or None,
                created_at=key.created_at,
                revoked_at=key.revoked_at,
            )
        )

    def by_hash(self, key_hash: str) -> ApiKey | None:
        row = self._conn.execute(sa.select(api_keys).where(api_keys.c.key_hash == key_hash)).first()
        return None if row is None else _api_key(row)

    def get(self, key_id: str) -> ApiKey | None:
        row = self._conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
        return None if row is None else _api_key(row)

    def all(self) -> list[ApiKey]:
        query = sa.select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
        return [_api_key(row) for row in self._conn.execute(query)]

    def revoke(self, key_id: str, at: datetime) -> None:
        self._conn.execute(
            api_keys.update()
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )


def _api_key(row: sa.Row[Any]) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        roles=frozenset(Role(r) for r in row.scopes.split()),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        customers=frozenset((row.customers or "").split()),
    )


class SqlAuditLog:
    """The audit chain; the head row is locked so the chain never forks. ``before`` and
    ``after`` are stored as their canonical JSON (rows of sha256-json: sorted-key JSON)."""

    def __init__(self, conn: sa.Connection, chain: AuditChain) -> None:
        self._conn = conn
        self._chain = chain

    def _locked_head(self) -> AuditHead:
        row = self._conn.execute(
            sa.select(audit_head.c.seq, audit_head.c.hash, audit_head.c.alg)
            .where(audit_head.c.id == 1)
            .with_for_update()
        ).one()
        return AuditHead(row.seq, row.hash, row.alg)

    def _row(self, head: AuditHead, record: AuditRecord) -> dict[str, Any]:
        before = self._chain.stored_json(record.before)
        after = self._chain.stored_json(record.after)
        alg, digest = self._chain.seal(head, record, before, after)
        return {
            "at": record.at,
            "actor": record.actor,
            "action": record.action,
            "object_type": record.object_type,
            "object_id": record.object_id,
            "before": before,
            "after": after,
            "prev_hash": head.hash,
            "hash": digest,
            "alg": alg.value,
        }

    def append(self, record: AuditRecord) -> AuditEntry:
        head = self._locked_head()
        row = self._row(head, record)
        seq = self._conn.execute(
            audit_log.insert().values(**row).returning(audit_log.c.seq)
        ).scalar_one()
        self._conn.execute(
            audit_head.update()
            .where(audit_head.c.id == 1)
            .values(seq=seq, hash=row["hash"], alg=row["alg"])
        )
        return AuditEntry(seq, record, head.hash, row["hash"], row["alg"])

    def append_many(self, records: Sequence[AuditRecord]) -> None:
        """Append several records in one go (one chain, one head update)."""
        if not records:
            return
        head = self._locked_head()
        rows = []
        for record in records:
            row = self._row(head, record)
            rows.append(row)
            head = AuditHead(head.seq, row["hash"], row["alg"])
        self._conn.execute(audit_log.insert(), rows)
        last = self._conn.execute(sa.select(sa.func.max(audit_log.c.seq))).scalar_one()
        self._conn.execute(
            audit_head.update()
            .where(audit_head.c.id == 1)
            .values(seq=last, hash=head.hash, alg=head.alg)
        )

    def entries(self, after: int | None = None) -> Iterator[AuditEntry]:
        query = sa.select(audit_log).order_by(audit_log.c.seq)
        if after is not None:
            query = query.where(audit_log.c.seq > after)
        for row in self._conn.execution_options(yield_per=1000).execute(query):
            yield _audit_entry(row)

    def latest(self, object_type: str, object_id: str) -> AuditEntry | None:
        query = (
            sa.select(audit_log)
            .where(audit_log.c.object_type == object_type, audit_log.c.object_id == object_id)
            .order_by(audit_log.c.seq.desc())
            .limit(1)
        )
        row = self._conn.execute(query).first()
        return None if row is None else _audit_entry(row)

    def head(self) -> AuditHead:
        row = self._conn.execute(
            sa.select(audit_head.c.seq, audit_head.c.hash, audit_head.c.alg).where(
                audit_head.c.id == 1
            )
        ).one()
        return AuditHead(row.seq, row.hash, row.alg)

    def get(self, seq: int) -> AuditEntry | None:
        row = self._conn.execute(sa.select(audit_log).where(audit_log.c.seq == seq)).first()
        return None if row is None else _audit_entry(row)


def _audit_entry(row: sa.Row[Any]) -> AuditEntry:
    try:
        before = None if row.before is None else json.loads(row.before)
        after = None if row.after is None else json.loads(row.after)
    except ValueError:
        raise UnreadableEntry(row.seq, "its before or after is not JSON") from None
    record = AuditRecord(
        at=row.at,
        actor=row.actor,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        before=before,
        after=after,
    )
    return AuditEntry(row.seq, record, row.prev_hash, row.hash, row.alg)


class SqlDeadLetterStore:
    """Refused inputs."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def add(self, letters: Sequence[DeadLetter]) -> None:
        if letters:
            self._conn.execute(
                dead_letters.insert(),
                [
                    {
                        "received_at": letter.received_at,
                        "channel": letter.channel,
                        "code": letter.code,
                        "reason": letter.reason,
                        "payload": letter.payload,
                        "position": letter.position,
                        "event_source": letter.event_source,
                        "event_id": letter.event_id,
                        "correlation_id": letter.correlation_id,
                        "actor": letter.actor,
                    }
                    for letter in letters
                ],
            )

    def counts(self) -> dict[str, int]:
        query = sa.select(dead_letters.c.channel, sa.func.count()).group_by(dead_letters.c.channel)
        found = {channel: int(n) for channel, n in self._conn.execute(query)}
        for channel, pruned in self._conn.execute(sa.select(dead_letters_pruned)):
            found[channel] = found.get(channel, 0) + int(pruned)
        return found

    def page(
        self, *, channel: str | None, after_id: int | None, limit: int
    ) -> list[StoredDeadLetter]:
        query = sa.select(dead_letters).order_by(dead_letters.c.id).limit(limit)
        if channel is not None:
            query = query.where(dead_letters.c.channel == channel)
        if after_id is not None:
            query = query.where(dead_letters.c.id > after_id)
        return [_letter(row) for row in self._conn.execute(query)]

    def quarantined(self, after_id: int | None, limit: int) -> Sequence[StoredDeadLetter]:
        query = (
            sa.select(dead_letters)
            .where(dead_letters.c.code == Code.QUARANTINED.value)
            .order_by(dead_letters.c.id)
            .limit(limit)
        )
        if after_id is not None:
            query = query.where(dead_letters.c.id > after_id)
        return [_letter(row) for row in self._conn.execute(query)]

    def mark_released(self, ids: Sequence[int]) -> None:
        if ids:
            self._conn.execute(
                dead_letters.update()
                .where(dead_letters.c.id.in_(list(ids)), dead_letters.c.code == Code.QUARANTINED)
                .values(code=RELEASED)
            )


def _letter(row: sa.Row[Any]) -> StoredDeadLetter:
    return StoredDeadLetter(
        row.id,
        DeadLetter(
            received_at=row.received_at,
            channel=row.channel,
            code=row.code,
            reason=row.reason,
            payload=row.payload,
            position=row.position,
            event_source=row.event_source,
            event_id=row.event_id,
            correlation_id=row.correlation_id,
            actor=row.actor,
        ),
    )


#: the columns a voided event keeps
_VOIDED_FROM = tuple(c for c in voided_events.c if c.name in usage_events.c)
#: dedup slots probed for a key (a collision needs a second slot once in ~10^10 pairs)
_PROBES = 8


def _holding(conn: sa.Connection, slots: list[int]) -> sa.ColumnElement[bool]:
    """The stored events in these dedup slots. PostgreSQL: through their claims, whose
    ``(seq, day)`` is the key of the event's row in its month's table (``usage_events``
    has no index on ``dedup_slot`` there); an archived event has a claim but no live row."""
    if conn.dialect.name != "postgresql":
        return usage_events.c.dedup_slot.in_(slots)
    claims = sa.select(usage_slots.c.seq, usage_slots.c.day).where(
        usage_slots.c.dedup_slot.in_(slots)
    )
    return sa.tuple_(usage_events.c.seq, usage_events.c.day).in_(claims)


class SqlUsageMaintenance:
    """Attaches unmapped usage to customers when their tenants get mapped; voids events. Each
    change that moves events takes a usage mark (``usage_marks.py``) and keeps it on them, so
    that the events behind an invoice line stay those its cutoff counted."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def attach_unmapped(self, tenants: Collection[str], customer_id: str) -> int:
        if not tenants:
            return 0
        lock_for_marks(self._conn)
        waiting = sa.and_(
            usage_events.c.customer_id.is_(None), usage_events.c.subject.in_(list(tenants))
        )
        earliest = self._conn.execute(sa.select(sa.func.min(usage_events.c.time_us)).where(waiting))
        first_us = earliest.scalar()
        if first_us is None:
            return 0
        mark = take_mark(self._conn)
        result = self._conn.execute(
            usage_events.update().where(waiting).values(customer_id=customer_id, attached_seq=mark)
        )
        self._recheck(customer_id, int(first_us))
        # the threshold watcher reads by ingest sequence: tell it to look at this customer
        self._conn.execute(
            _insert(self._conn, threshold_rechecks)
            .values(customer_id=customer_id)
            .on_conflict_do_nothing()
        )
        return result.rowcount

    def void_events(
        self, keys: Collection[tuple[str, str]], correction_id: str, now: datetime
    ) -> VoidOutcome:
        wanted = set(keys)
        lock_for_marks(self._conn)  # before any row: ingestion holds it shared while it writes
        slots = [dedup_slot(s, e, probe) for s, e in wanted for probe in range(_PROBES)]
        live = [
            row
            for row in self._conn.execute(
                sa.select(usage_events).where(_holding(self._conn, slots))
            )
            if (row.source, row.event_id) in wanted
        ]
        gone = {
            (row.source, row.event_id)
            for row in self._conn.execute(
                sa.select(voided_events.c.source, voided_events.c.event_id).where(
                    voided_events.c.dedup_slot.in_(slots)
                )
            )
            if (row.source, row.event_id) in wanted
        }
        found = {(row.source, row.event_id) for row in live}
        missing = wanted - found - gone
        if live and not missing:
            mark = take_mark(self._conn)
            self._conn.execute(
                voided_events.insert(),
                [
                    {
                        **{c.name: getattr(row, c.name) for c in _VOIDED_FROM},
                        "correction_id": correction_id,
                        "voided_at": now,
                        "voided_seq": mark,
                    }
                    for row in live
                ],
            )
            self._conn.execute(
                usage_events.delete().where(usage_events.c.seq.in_([row.seq for row in live]))
            )
            earliest: dict[str, int] = {}
            for row in live:
                if row.customer_id is not None:
                    earliest[row.customer_id] = min(
                        earliest.get(row.customer_id, row.time_us), row.time_us
                    )
            for customer_id, from_us in earliest.items():
                self._recheck(customer_id, from_us)
        return VoidOutcome(
            voided=tuple(sorted(found)) if not missing else (),
            already_voided=tuple(sorted(gone)),
            missing=tuple(sorted(missing)),
        )

    def record_correction(
        self, correction_id: str, reason: str, actor: str, voided: int, now: datetime
    ) -> None:
        self._conn.execute(
            usage_corrections.insert().values(
                id=correction_id, reason=reason, actor=actor, voided=voided, created_at=now
            )
        )

    def clear_recheck(self, customer_id: str, from_us: int) -> None:
        self._conn.execute(
            usage_rechecks.delete().where(
                usage_rechecks.c.customer_id == customer_id, usage_rechecks.c.from_us == from_us
            )
        )

    def _recheck(self, customer_id: str, from_us: int) -> None:
        """Billing looks again at this customer's periods from ``from_us``: usage reached it
        without being ingested anew (so after a billing run's cutoff it would go unseen)."""
        current = self._conn.execute(
            sa.select(usage_rechecks.c.from_us).where(usage_rechecks.c.customer_id == customer_id)
        ).scalar()
        if current is None:
            self._conn.execute(
                usage_rechecks.insert().values(customer_id=customer_id, from_us=from_us)
            )
        elif from_us < current:
            self._conn.execute(
                usage_rechecks.update()
                .where(usage_rechecks.c.customer_id == customer_id)
                .values(from_us=from_us)
            )


class SqlUnitOfWork:
    """:class:`~revsync.ports.repositories.UnitOfWork` on one connection.

    With ``write=True`` (the default) the SQLite write lock is taken at the start, so the
    transaction never fails half-way on a lock upgrade.
    """

    customers: SqlCustomerRepository
    api_keys: SqlApiKeyRepository
    audit: SqlAuditLog
    dead_letters: SqlDeadLetterStore
    usage: SqlUsageMaintenance
    plans: SqlPlanRepository
    coupons: SqlCouponRepository
    subscriptions: SqlSubscriptionRepository
    invoices: SqlInvoiceRepository
    credits: SqlCreditRepository
    billing_runs: SqlBillingRunRepository
    reconciliations: SqlReconciliationStore
    kpis: SqlKpiStore
    outbox: SqlOutboxRepository
    circuits: SqlCircuitRepository
    cases: SqlCaseRepository
    postings: SqlPostingRepository
    crm: SqlCrmStateRepository
    support: SqlSupportStateRepository
    collections: SqlCollectionsRepository
    renewals: SqlRenewalRepository
    deals: SqlDealRepository
    idempotency: SqlIdempotencyRepository
    jobs: SqlJobRepository
    schemas: SqlSchemaStore
    console_sessions: SqlConsoleSessionStore
    thresholds: SqlThresholdStore
    retention: SqlRetentionStore

    def __init__(
        self,
        engine: Engine,
        now: datetime,
        *,
        write: bool = True,
        audit_chain: AuditChain | None = None,
        case_news: CaseNews | None = None,
    ) -> None:
        self._engine = engine
        self._now = now
        self._case_news = case_news
        self._write = write
        self._audit_chain = audit_chain or AuditChain(jcs)
        self._conn: sa.Connection | None = None
        self._tx: sa.RootTransaction | None = None

    def __enter__(self) -> Self:
        conn = self._engine.connect()
        if self._write:
            conn = conn.execution_options(**WRITE)
        self._conn = conn
        self._tx = conn.begin()
        self.customers = SqlCustomerRepository(conn, self._now)
        self.api_keys = SqlApiKeyRepository(conn)
        self.audit = SqlAuditLog(conn, self._audit_chain)
        self.dead_letters = SqlDeadLetterStore(conn)
        self.usage = SqlUsageMaintenance(conn)
        self.plans = SqlPlanRepository(conn)
        self.coupons = SqlCouponRepository(conn)
        self.subscriptions = SqlSubscriptionRepository(conn)
        self.invoices = SqlInvoiceRepository(conn)
        self.credits = SqlCreditRepository(conn)
        self.billing_runs = SqlBillingRunRepository(conn)
        self.reconciliations = SqlReconciliationStore(conn)
        self.kpis = SqlKpiStore(conn)
        self.outbox = SqlOutboxRepository(conn)
        self.circuits = SqlCircuitRepository(conn)
        self.cases = SqlCaseRepository(conn, self._case_news)
        self.postings = SqlPostingRepository(conn)
        self.crm = SqlCrmStateRepository(conn)
        self.support = SqlSupportStateRepository(conn)
        self.collections = SqlCollectionsRepository(conn)
        self.renewals = SqlRenewalRepository(conn)
        self.deals = SqlDealRepository(conn)
        self.idempotency = SqlIdempotencyRepository(conn)
        self.jobs = SqlJobRepository(conn)
        self.schemas = SqlSchemaStore(conn)
        self.console_sessions = SqlConsoleSessionStore(conn)
        self.thresholds = SqlThresholdStore(conn)
        self.retention = SqlRetentionStore(conn)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None and self._tx is not None
        if self._tx.is_active:
            self._tx.rollback()
        self._conn.close()

    def commit(self) -> None:
        assert self._tx is not None
        claim = active_claim.get()
        if claim is not None and not claim.committed and self._write:
            # the request's effect and its idempotency key commit together
            self.idempotency.mark_committed(claim.scope, claim.key)
            self._tx.commit()
            claim.committed = True
            return
        self._tx.commit()

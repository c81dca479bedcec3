"""Reconciliation runs, and what revsync booked in the ERP, in SQL."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

import sqlalchemy as sa

from revsync.adapters.connectors.crm.destination import SIGNALS
from revsync.adapters.db.tables import (
    crm_signals,
    customer_refs,
    erp_postings,
    invoices,
    outbox_messages,
    reconciliation_runs,
    subscription_terms,
    subscriptions,
)
from revsync.domain.crm import subscription_id
from revsync.domain.delivery import MessageStatus
from revsync.domain.identity import System
from revsync.domain.reconciliation import (
    Booked,
    Check,
    Finding,
    FindingKind,
    ReconciliationRun,
    SentSignals,
    SubscriptionView,
)
from revsync.schemas.reconciliation_v1 import finding_out


class SqlReconciliationStore:
    """:class:`~revsync.ports.reconciliation.ReconciliationStore` on one connection."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def booked(self, destination: str, since: date, keys: Collection[str] = ()) -> list[Booked]:
        m, i = outbox_messages.c, invoices.c
        base = _booked_query().where(m.destination == destination, i.number.is_not(None))
        found = {
            row.idempotency_key: row
            for row in self._conn.execute(base.where(i.issue_date >= since))
        }
        rest = sorted(set(keys) - found.keys())
        for start in range(0, len(rest), _KEYS_PER_QUERY):  # within SQLite's variable limit
            chunk = rest[start : start + _KEYS_PER_QUERY]
            for row in self._conn.execute(base.where(m.idempotency_key.in_(chunk))):
                found[row.idempotency_key] = row
        return [_booked(row) for row in sorted(found.values(), key=lambda r: r.number)]

    def sent_signals(self, destination: str) -> list[SentSignals]:
        s, r, m = crm_signals.c, customer_refs.c, outbox_messages.c
        unfinished = sa.select(m.payload).where(
            m.destination == destination,
            m.kind == SIGNALS,
            m.status.in_(_UNFINISHED),
        )
        waiting = {
            str(account["customer_id"])
            for (payload,) in self._conn.execute(unfinished)
            for account in payload.get("accounts", ())
        }
        query = (
            sa.select(s.customer_id, r.value, s["values"])
            .join(customer_refs, r.customer_id == s.customer_id)
            .where(r.system == System.CRM.value)
            .order_by(s.customer_id)
        )
        return [
            SentSignals(customer_id, account_id, values)
            for customer_id, account_id, values in self._conn.execute(query)
            if customer_id not in waiting
        ]

    def contract_subscriptions(self) -> dict[str, SubscriptionView]:
        s, t, r = subscriptions.c, subscription_terms.c, customer_refs.c
        latest = (
            sa.select(t.subscription_id, sa.func.max(t.version).label("version"))
            .group_by(t.subscription_id)
            .subquery()
        )
        query = (
            sa.select(s.id, s.renewal_date, t.plan_code, t.seats, t.ends, r.value)
            .join(latest, latest.c.subscription_id == s.id)
            .join(
                subscription_terms,
                sa.and_(t.subscription_id == s.id, t.version == latest.c.version),
            )
            .outerjoin(
                customer_refs,
                sa.and_(r.customer_id == s.customer_id, r.system == System.CRM.value),
            )
            .where(s.id.startswith(subscription_id("")))
            .order_by(s.id, r.value)
        )
        found: dict[str, SubscriptionView] = {}
        for sub_id, renewal, plan, seats, ends, account in self._conn.execute(query):
            known = found.get(sub_id)
            accounts = (*known.account_ids, account) if known else (account,)
            found[sub_id] = SubscriptionView(
                sub_id,
                tuple(a for a in accounts if a is not None),
                ends is None,
                plan,
                int(seats),
                renewal,
            )
        return found

    def save(self, run: ReconciliationRun) -> None:
        self._conn.execute(
            sa.insert(reconciliation_runs).values(
                id=run.id,
                started_at=run.started_at,
                finished_at=run.finished_at,
                since=run.since,
                actor=run.actor[:200],
                summary={
                    "checks": [c.value for c in run.checks],
                    "checked": dict(run.checked),
                    "opened": list(run.opened),
                    "closed": list(run.closed),
                },
                findings=[finding_out(f) for f in run.findings],
            )
        )

    def get(self, run_id: str) -> ReconciliationRun | None:
        r = reconciliation_runs.c
        row = self._conn.execute(sa.select(reconciliation_runs).where(r.id == run_id)).first()
        return None if row is None else _run(row)

    def page(self, *, before: str | None, limit: int) -> list[ReconciliationRun]:
        r = reconciliation_runs.c
        query = sa.select(reconciliation_runs)
        if before is not None:
            query = query.where(r.id < before)
        rows = self._conn.execute(query.order_by(r.id.desc()).limit(limit))
        return [_run(row) for row in rows]


#: messages whose effect the CRM may not show yet
_UNFINISHED = (
    MessageStatus.PENDING.value,
    MessageStatus.IN_FLIGHT.value,
    MessageStatus.FAILED.value,
)
#: keys looked up per statement
_KEYS_PER_QUERY = 500


def _booked_query() -> sa.Select[Any]:
    m, i, p = outbox_messages.c, invoices.c, erp_postings.c
    return (
        sa.select(
            i.id,
            i.number,
            m.idempotency_key,
            m.status,
            i.currency,
            i.subtotal,
            i.discount,
            i.tax,
            i.total,
            p.party,
            p.paid,
        )
        .join(invoices, i.id == m.object_id)
        .outerjoin(erp_postings, p.invoice_id == i.id)
    )


def _booked(row: sa.Row[Any]) -> Booked:
    return Booked(
        invoice_id=row.id,
        number=row.number,
        key=row.idempotency_key,
        currency=row.currency,
        untaxed=row.subtotal + row.discount,
        tax=row.tax,
        total=row.total,
        delivered=row.status == MessageStatus.DELIVERED.value,
        party=row.party,
        paid=None if row.party is None else bool(row.paid),
    )


def _run(row: sa.Row[Any]) -> ReconciliationRun:
    summary = row.summary
    return ReconciliationRun(
        id=row.id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        since=row.since,
        actor=row.actor,
        checks=tuple(Check(c) for c in summary["checks"]),
        checked={str(k): int(v) for k, v in summary["checked"].items()},
        findings=[
            Finding(
                FindingKind(f["kind"]),
                f["object_type"],
                f["object_id"],
                f["message"],
                f["ours"],
                f["theirs"],
            )
            for f in row.findings
        ],
        opened=tuple(summary["opened"]),
        closed=tuple(summary["closed"]),
    )

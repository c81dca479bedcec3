"""Support sync state in SQL: where the incremental reads stopped, and the tickets read."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from revsync.adapters.db.tables import (
    collections,
    erp_postings,
    invoices,
    support_credits,
    support_tickets,
    support_watermarks,
)
from revsync.ports.support import CreditRecord, TicketMark, TicketRecord


class SqlSupportStateRepository:
    """:class:`~revsync.ports.support.SupportStateRepository` on a connection."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def mark(self, name: str) -> TicketMark | None:
        row = self._conn.execute(
            sa.select(support_watermarks).where(support_watermarks.c.name == name)
        ).first()
        return None if row is None else TicketMark(row.updated_at, int(row.record_id))

    def set_mark(self, name: str, mark: TicketMark, at: datetime) -> None:
        values = {"updated_at": mark.updated_at, "record_id": mark.ticket_id, "synced_at": at}
        table = support_watermarks
        if not self._conn.execute(
            table.update().where(table.c.name == name).values(**values)
        ).rowcount:
            self._conn.execute(table.insert().values(name=name, **values))

    def tickets(self, ticket_ids: Collection[int]) -> dict[int, TicketRecord]:
        found: dict[int, TicketRecord] = {}
        ids = sorted(set(ticket_ids))
        for start in range(0, len(ids), 500):
            rows = self._conn.execute(
                sa.select(support_tickets).where(
                    support_tickets.c.ticket_id.in_(ids[start : start + 500])
                )
            )
            for row in rows:
                found[int(row.ticket_id)] = TicketRecord(
                    int(row.ticket_id),
                    None if row.organization_id is None else int(row.organization_id),
                    row.customer_id,
                    row.status,
                    row.priority,
                    row.created_at,
                    row.updated_at,
                    row.context_digest,
                )
        return found

    def put_ticket(self, record: TicketRecord, at: datetime) -> None:
        values = asdict(record) | {"read_at": at}
        table = support_tickets
        if not self._conn.execute(
            table.update().where(table.c.ticket_id == record.ticket_id).values(**values)
        ).rowcount:
            self._conn.execute(table.insert().values(**values))

    def open_tickets(self, customer_id: str) -> list[int]:
        table = support_tickets
        rows = self._conn.execute(
            sa.select(table.c.ticket_id)
            .where(
                table.c.customer_id == customer_id,
                table.c.status.not_in(["solved", "closed", "deleted"]),
            )
            .order_by(table.c.ticket_id)
        )
        return [int(row.ticket_id) for row in rows]

    def billing_changed(self, since: datetime | None) -> dict[str, datetime]:
        t, p, i, k = support_tickets.c, erp_postings.c, invoices.c, collections.c
        open_customers = (
            sa.select(t.customer_id)
            .where(t.customer_id.is_not(None), t.status.not_in(["solved", "closed", "deleted"]))
            .distinct()
            .scalar_subquery()
        )
        changed = sa.func.coalesce(p.synced_at, p.posted_at)
        postings = (
            sa.select(i.customer_id.label("customer_id"), sa.func.max(changed).label("at"))
            .join(invoices, i.id == p.invoice_id)
            .where(i.customer_id.in_(open_customers))
            .group_by(i.customer_id)
        )
        ladder = sa.select(k.customer_id, k.updated_at.label("at")).where(
            k.customer_id.in_(open_customers)
        )
        if since is not None:
            postings = postings.having(sa.func.max(changed) > since)
            ladder = ladder.where(k.updated_at > since)
        found: dict[str, datetime] = {}
        for query in (postings, ladder):
            for customer_id, at in self._conn.execute(query):
                found[customer_id] = max(at, found.get(customer_id, at))
        return found

    def priorities(self, customer_id: str, start: datetime, end: datetime) -> list[str | None]:
        table = support_tickets
        rows = self._conn.execute(
            sa.select(table.c.priority).where(
                table.c.customer_id == customer_id,
                table.c.created_at > start,
                table.c.created_at <= end,
            )
        )
        return [row.priority for row in rows]

    def credits(self, ticket_ids: Collection[int]) -> dict[int, CreditRecord]:
        ids = sorted(set(ticket_ids))
        found: dict[int, CreditRecord] = {}
        for start in range(0, len(ids), 500):
            rows = self._conn.execute(
                sa.select(support_credits).where(
                    support_credits.c.ticket_id.in_(ids[start : start + 500])
                )
            )
            found.update((int(row.ticket_id), _credit(row)) for row in rows)
        return found

    def add_credit(self, record: CreditRecord) -> None:
        self._conn.execute(support_credits.insert().values(**_credit_values(record)))

    def credit_of_case(self, case_id: str) -> CreditRecord | None:
        row = self._conn.execute(
            sa.select(support_credits).where(support_credits.c.case_id == case_id)
        ).first()
        return None if row is None else _credit(row)

    def decide_credit(self, record: CreditRecord) -> bool:
        c = support_credits.c
        values = _credit_values(record)
        values.pop("ticket_id")
        updated = self._conn.execute(
            support_credits.update()
            .where(c.ticket_id == record.ticket_id, c.status == "requested")
            .values(**values)
        ).rowcount
        return bool(updated)

    def credits_to_announce(self) -> list[CreditRecord]:
        c = support_credits.c
        rows = self._conn.execute(
            sa.select(support_credits)
            .where(c.status == "issued", c.announced.is_(False))
            .order_by(c.ticket_id)
        )
        return [_credit(row) for row in rows]

    def set_announced(self, ticket_id: int) -> None:
        c = support_credits.c
        self._conn.execute(
            support_credits.update().where(c.ticket_id == ticket_id).values(announced=True)
        )


def _credit_values(record: CreditRecord) -> dict[str, Any]:
    values = asdict(record)
    if record.lines is not None:
        values["lines"] = {key: str(amount) for key, amount in record.lines.items()}
    return values


def _credit(row: Any) -> CreditRecord:
    lines = None if row.lines is None else {k: Decimal(v) for k, v in row.lines.items()}
    return CreditRecord(
        ticket_id=int(row.ticket_id),
        customer_id=row.customer_id,
        status=row.status,
        reason=row.reason,
        requested_at=row.requested_at,
        invoice_id=row.invoice_id,
        lines=lines,
        total=row.total,
        currency=row.currency,
        case_id=row.case_id,
        credit_note_id=row.credit_note_id,
        explanation=row.explanation,
        announced=bool(row.announced),
        decided_at=row.decided_at,
        decided_by=row.decided_by,
    )

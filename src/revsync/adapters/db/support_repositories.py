"""Support sync state in SQL: where the incremental reads stopped, and the tickets read."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict
from datetime import datetime

import sqlalchemy as sa

from revsync.adapters.db.tables import support_tickets, support_watermarks
from revsync.ports.support import TicketMark, TicketRecord


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

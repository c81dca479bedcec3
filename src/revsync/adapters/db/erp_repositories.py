"""ERP postings in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from revsync.adapters.db.tables import erp_postings, invoices
from revsync.domain.invoicing import InvoiceStatus
from revsync.ports.erp import PostingRecord


class SqlPostingRepository:
    """:class:`~revsync.ports.erp.PostingRepository` on a connection."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def record(self, posting: PostingRecord, at: datetime) -> bool:
        if self.get(posting.invoice_id) is not None:
            return False
        self._conn.execute(
            erp_postings.insert().values(
                invoice_id=posting.invoice_id,
                remote_id=posting.remote_id,
                number=posting.number,
                party=posting.party,
                invoice_date=posting.invoice_date,
                rolled_forward_from=posting.rolled_forward_from,
                posted_at=at,
            )
        )
        return True

    def get(self, invoice_id: str) -> PostingRecord | None:
        row = self._conn.execute(
            sa.select(erp_postings).where(erp_postings.c.invoice_id == invoice_id)
        ).first()
        return None if row is None else _record(row)

    def many(self, invoice_ids: Sequence[str]) -> dict[str, PostingRecord]:
        ids = list(invoice_ids)
        found: dict[str, PostingRecord] = {}
        for start in range(0, len(ids), 900):
            rows = self._conn.execute(
                sa.select(erp_postings).where(
                    erp_postings.c.invoice_id.in_(ids[start : start + 900])
                )
            )
            found.update({row.invoice_id: _record(row) for row in rows})
        return found

    def unpaid(self) -> list[PostingRecord]:
        rows = self._conn.execute(
            sa.select(erp_postings)
            .where(erp_postings.c.paid == sa.false())
            .order_by(erp_postings.c.invoice_id)
        )
        return [_record(row) for row in rows]

    def overdue_by_customer(self) -> dict[str, list[PostingRecord]]:
        p, i = erp_postings.c, invoices.c
        rows = self._conn.execute(
            sa.select(erp_postings, i.customer_id.label("owner"))
            .join(invoices, i.id == p.invoice_id)
            .where(
                p.paid == sa.false(),
                p.overdue == sa.true(),
                i.credits_invoice.is_(None),
                i.status != InvoiceStatus.VOID.value,
            )
            .order_by(i.customer_id, p.invoice_id)
        )
        found: dict[str, list[PostingRecord]] = {}
        for row in rows:
            found.setdefault(row.owner, []).append(_record(row))
        return found

    def credits_to_settle(self) -> list[tuple[PostingRecord, list[str]]]:
        original = erp_postings.alias("original")
        note = erp_postings.alias("note")
        rows = self._conn.execute(
            sa.select(original, note.c.remote_id.label("note_remote_id"))
            .join(invoices, invoices.c.credits_invoice == original.c.invoice_id)
            .join(note, note.c.invoice_id == invoices.c.id)
            .where(original.c.paid == sa.false())
            .order_by(original.c.invoice_id, note.c.remote_id)
        )
        found: dict[str, tuple[PostingRecord, list[str]]] = {}
        for row in rows:
            entry = found.setdefault(row.invoice_id, (_record(row), []))
            entry[1].append(row.note_remote_id)
        return list(found.values())

    def update(self, posting: PostingRecord, at: datetime) -> None:
        self._conn.execute(
            erp_postings.update()
            .where(erp_postings.c.invoice_id == posting.invoice_id)
            .values(
                paid=posting.paid,
                amount_to_pay=posting.amount_to_pay,
                due_date=posting.due_date,
                overdue=posting.overdue,
                dunning_level=posting.dunning_level,
                synced_at=at,
            )
        )


def _record(row: sa.Row[Any]) -> PostingRecord:
    return PostingRecord(
        invoice_id=row.invoice_id,
        remote_id=row.remote_id,
        number=row.number,
        party=row.party,
        invoice_date=row.invoice_date,
        rolled_forward_from=row.rolled_forward_from,
        paid=bool(row.paid),
        amount_to_pay=row.amount_to_pay,
        due_date=row.due_date,
        overdue=bool(row.overdue),
        dunning_level=row.dunning_level,
    )

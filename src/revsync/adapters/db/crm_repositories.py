"""CRM sync state in SQL: watermarks of incremental pulls, the signals last pushed, and each
contract's plan and seats as last read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from revsync.adapters.db.tables import crm_contracts, crm_signals, crm_watermarks
from revsync.domain.crm import ContractSeen
from revsync.ports.crm import Watermark


class SqlCrmStateRepository:
    """:class:`~revsync.ports.crm.CrmStateRepository` on a connection."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def watermark(self, sobject: str) -> Watermark | None:
        row = self._conn.execute(
            sa.select(crm_watermarks).where(crm_watermarks.c.sobject == sobject)
        ).first()
        return None if row is None else Watermark(row.modstamp, row.record_id)

    def set_watermark(self, sobject: str, watermark: Watermark, at: datetime) -> None:
        values = {"modstamp": watermark.modstamp, "record_id": watermark.record_id, "synced_at": at}
        updated = self._conn.execute(
            crm_watermarks.update().where(crm_watermarks.c.sobject == sobject).values(**values)
        ).rowcount
        if not updated:
            self._conn.execute(crm_watermarks.insert().values(sobject=sobject, **values))

    def pushed_digest(self, customer_id: str) -> str | None:
        return self._conn.execute(
            sa.select(crm_signals.c.digest).where(crm_signals.c.customer_id == customer_id)
        ).scalar()

    def set_pushed(
        self, customer_id: str, digest: str, values: dict[str, Any], at: datetime
    ) -> None:
        row = {"digest": digest, "values": values, "pushed_at": at}
        updated = self._conn.execute(
            crm_signals.update().where(crm_signals.c.customer_id == customer_id).values(**row)
        ).rowcount
        if not updated:
            self._conn.execute(crm_signals.insert().values(customer_id=customer_id, **row))

    def pushed(self, customer_id: str) -> dict[str, Any] | None:
        found = self._conn.execute(
            sa.select(crm_signals.c["values"]).where(crm_signals.c.customer_id == customer_id)
        ).scalar()
        return None if found is None else dict(found)

    def contract_seen(self, contract_id: str) -> ContractSeen | None:
        row = self._conn.execute(
            sa.select(crm_contracts).where(crm_contracts.c.contract_id == contract_id)
        ).first()
        return None if row is None else ContractSeen(row.plan, row.seats)

    def set_contract_seen(self, contract_id: str, seen: ContractSeen, at: datetime) -> None:
        values = {"plan": seen.plan, "seats": seen.seats, "seen_at": at}
        table = crm_contracts
        if not self._conn.execute(
            table.update().where(table.c.contract_id == contract_id).values(**values)
        ).rowcount:
            self._conn.execute(table.insert().values(contract_id=contract_id, **values))

"""Won CRM opportunities, taken or refused, and the ERP sale orders placed for them, in SQL."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from revsync.adapters.db.tables import deals
from revsync.domain.deals import SaleLink
from revsync.ports.deals import DealRecord, DealStatus

#: ids per IN (...) list
_CHUNK = 500


class SqlDealRepository:
    """:class:`~revsync.ports.deals.DealRepository` on a connection."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def get(self, opportunity_id: str) -> DealRecord | None:
        return self.many([opportunity_id]).get(opportunity_id)

    def many(self, opportunity_ids: Collection[str]) -> dict[str, DealRecord]:
        d = deals.c
        ids = sorted(set(opportunity_ids))
        found: dict[str, DealRecord] = {}
        for start in range(0, len(ids), _CHUNK):
            rows = self._conn.execute(
                sa.select(deals).where(d.opportunity_id.in_(ids[start : start + _CHUNK]))
            )
            found.update({row.opportunity_id: _deal(row) for row in rows})
        return found

    def save(self, deal: DealRecord, at: datetime) -> None:
        values: dict[str, Any] = {
            "account_id": deal.account_id,
            "status": deal.status.value,
            "customer_id": deal.customer_id,
            "subscription_id": deal.subscription_id,
            "kind": deal.kind,
            "start": deal.start,
            "lines": [dict(line) for line in deal.lines],
            "reason": deal.reason,
            "updated_at": at,
        }
        d = deals.c
        changed = self._conn.execute(
            deals.update().where(d.opportunity_id == deal.opportunity_id).values(**values)
        ).rowcount
        if not changed:
            self._conn.execute(deals.insert().values(opportunity_id=deal.opportunity_id, **values))

    def delete(self, opportunity_id: str) -> None:
        self._conn.execute(deals.delete().where(deals.c.opportunity_id == opportunity_id))

    def refused(self, limit: int) -> list[str]:
        d = deals.c
        rows = self._conn.execute(
            sa.select(d.opportunity_id)
            .where(d.status == DealStatus.REFUSED.value)
            .order_by(d.updated_at, d.opportunity_id)
            .limit(limit)
        )
        return [row.opportunity_id for row in rows]

    def record_sale(
        self, opportunity_id: str, sale_id: str, number: str, lines: Mapping[str, str], at: datetime
    ) -> bool:
        d = deals.c
        changed = self._conn.execute(
            deals.update()
            .where(d.opportunity_id == opportunity_id, d.erp_sale_id.is_(None))
            .values(
                erp_sale_id=sale_id, erp_sale_number=number, sale_lines=dict(lines), updated_at=at
            )
        ).rowcount
        return bool(changed)

    def sale_links(self, subscription_ids: Collection[str]) -> dict[str, list[SaleLink]]:
        d = deals.c
        ids = sorted(set(subscription_ids))
        found: dict[str, list[SaleLink]] = {}
        for start in range(0, len(ids), _CHUNK):
            rows = self._conn.execute(
                sa.select(d.subscription_id, d.start, d.sale_lines)
                .where(
                    d.subscription_id.in_(ids[start : start + _CHUNK]),
                    d.status == DealStatus.TAKEN.value,
                    d.erp_sale_id.is_not(None),
                )
                .order_by(d.start, d.opportunity_id)
            )
            for row in rows:
                found.setdefault(row.subscription_id, []).extend(
                    SaleLink(key, _day(row.start), str(line))
                    for key, line in (row.sale_lines or {}).items()
                )
        return found

    def page(self, *, status: DealStatus | None, after: str | None, limit: int) -> list[DealRecord]:
        d = deals.c
        query = sa.select(deals).order_by(d.opportunity_id).limit(limit)
        if status is not None:
            query = query.where(d.status == status.value)
        if after is not None:
            query = query.where(d.opportunity_id > after)
        return [_deal(row) for row in self._conn.execute(query)]


def _day(value: date | None) -> date:
    assert value is not None  # a taken deal has its start
    return value


def _deal(row: Any) -> DealRecord:
    return DealRecord(
        opportunity_id=row.opportunity_id,
        account_id=row.account_id,
        status=DealStatus(row.status),
        customer_id=row.customer_id,
        subscription_id=row.subscription_id,
        kind=row.kind,
        start=row.start,
        lines=tuple(row.lines or ()),
        reason=row.reason,
        erp_sale_id=row.erp_sale_id,
        erp_sale_number=row.erp_sale_number,
        sale_lines=dict(row.sale_lines or {}),
        updated_at=row.updated_at,
    )

"""The collections ladder's state in SQL."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from revsync.adapters.db.tables import collections
from revsync.domain.collections import Restriction, Standing
from revsync.ports.collections import CollectionsRecord

_c = collections.c


class SqlCollectionsRepository:
    """:class:`~revsync.ports.collections.CollectionsRepository` on a connection."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def get(self, customer_id: str) -> CollectionsRecord | None:
        row = self._conn.execute(sa.select(collections).where(_c.customer_id == customer_id))
        found = row.first()
        return None if found is None else _record(found)

    def on_ladder(self) -> list[CollectionsRecord]:
        rows = self._conn.execute(
            sa.select(collections).where(_c.level > 0).order_by(_c.customer_id)
        )
        return [_record(row) for row in rows]

    def put(self, record: CollectionsRecord) -> None:
        standing = record.standing
        values = {
            "level": standing.level,
            "tasks": list(standing.tasks),
            "flagged": standing.flagged,
            "restriction": None if standing.restriction is None else standing.restriction.as_dict(),
            "since": record.since,
            "updated_at": record.updated_at,
        }
        if not self._conn.execute(
            collections.update().where(_c.customer_id == record.customer_id).values(**values)
        ).rowcount:
            self._conn.execute(
                collections.insert().values(customer_id=record.customer_id, **values)
            )

    def page(self, after: str | None, limit: int) -> list[CollectionsRecord]:
        query = sa.select(collections).where(_c.level > 0)
        if after is not None:
            query = query.where(_c.customer_id > after)
        rows = self._conn.execute(query.order_by(_c.customer_id).limit(limit))
        return [_record(row) for row in rows]

    def moved_since(self, at: datetime | None) -> list[CollectionsRecord]:
        query = sa.select(collections)
        if at is not None:
            query = query.where(_c.updated_at > at)
        rows = self._conn.execute(query.order_by(_c.updated_at, _c.customer_id))
        return [_record(row) for row in rows]

    def restrictions(self, customer_ids: Collection[str]) -> dict[str, Standing]:
        ids = sorted(set(customer_ids))
        found: dict[str, Standing] = {}
        for start in range(0, len(ids), 500):
            rows = self._conn.execute(
                sa.select(collections).where(
                    _c.customer_id.in_(ids[start : start + 500]), _c.restriction.is_not(None)
                )
            )
            found.update({row.customer_id: _record(row).standing for row in rows})
        return found


def _record(row: Any) -> CollectionsRecord:
    return CollectionsRecord(
        row.customer_id,
        Standing(
            int(row.level),
            tuple(int(t) for t in row.tasks),
            bool(row.flagged),
            Restriction.of(row.restriction),
        ),
        row.since,
        row.updated_at,
    )

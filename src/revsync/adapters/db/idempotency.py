""":class:`~revsync.ports.idempotency.IdempotencyRepository` on a connection."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from revsync.adapters.db.delivery_repositories import _insert
from revsync.adapters.db.tables import idempotency_keys
from revsync.ports.idempotency import KeyState, StoredKey

_c = idempotency_keys.c


class SqlIdempotencyRepository:
    """Idempotency keys."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def get(self, scope: str, key: str) -> StoredKey | None:
        row = self._conn.execute(
            sa.select(idempotency_keys).where(_c.scope == scope, _c.key == key)
        ).first()
        if row is None:
            return None
        return StoredKey(
            scope=row.scope,
            key=row.key,
            fingerprint=row.fingerprint,
            state=KeyState(row.state),
            created_at=row.created_at,
            status_code=row.status_code,
            body=row.body,
            media_type=row.media_type,
        )

    def insert(self, record: StoredKey) -> bool:
        statement = (
            _insert(self._conn, idempotency_keys)
            .values(
                scope=record.scope,
                key=record.key,
                fingerprint=record.fingerprint,
                state=record.state.value,
                created_at=record.created_at,
            )
            .on_conflict_do_nothing(index_elements=["scope", "key"])
            .returning(_c.key)  # a row only when this insert claimed the key
        )
        return self._conn.execute(statement).first() is not None

    def delete(self, scope: str, key: str) -> None:
        self._conn.execute(idempotency_keys.delete().where(_c.scope == scope, _c.key == key))

    def mark_committed(self, scope: str, key: str) -> None:
        self._conn.execute(
            idempotency_keys.update()
            .where(_c.scope == scope, _c.key == key)
            .values(state=KeyState.COMMITTED.value)
        )

    def complete(self, scope: str, key: str, status_code: int, body: bytes, media: str) -> None:
        self._conn.execute(
            idempotency_keys.update()
            .where(_c.scope == scope, _c.key == key)
            .values(state=KeyState.DONE.value, status_code=status_code, body=body, media_type=media)
        )

    def prune(self, before: datetime) -> int:
        result = self._conn.execute(idempotency_keys.delete().where(_c.created_at < before))
        return int(result.rowcount)

"""The schema registry's versions, and the quarantined events waiting for their type."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from revsync.adapters.db.tables import dead_letters, event_schemas
from revsync.domain.problems import Code
from revsync.domain.schemas import Compatibility, SchemaVersion, upcast_from
from revsync.ports.repositories import DeadLetter, StoredDeadLetter
from revsync.ports.schemas import StoredSchema
from revsync.schemas.event_schemas import canonical_text, read_exact

#: the code a quarantined dead letter takes once released
RELEASED = "released"


class SqlSchemaStore:
    """:class:`~revsync.ports.schemas.SchemaStore` on one connection."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def all(self) -> list[StoredSchema]:
        query = sa.select(event_schemas).order_by(event_schemas.c.type, event_schemas.c.version)
        return [_stored(row) for row in self._conn.execute(query)]

    def add(self, version: SchemaVersion, at: datetime, actor: str, source: str) -> bool:
        values = {
            "type": version.type,
            "version": version.version,
            "schema": version.text,
            "compatibility": version.compatibility.value,
            "upcast": canonical_text(version.upcast.to_data()) if version.upcast else None,
            "registered_at": at,
            "actor": actor[:200],
            "source": source,
        }
        dialect = sqlite if self._conn.dialect.name == "sqlite" else postgresql
        statement = dialect.insert(event_schemas).values(values).on_conflict_do_nothing()
        return bool(self._conn.execute(statement).rowcount)

    def latest_change(self) -> tuple[int, datetime | None]:
        count, newest = self._conn.execute(
            sa.select(sa.func.count(), sa.func.max(event_schemas.c.registered_at))
        ).one()
        return int(count), newest

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


def _stored(row: sa.Row[Any]) -> StoredSchema:
    schema = read_exact(row.schema)
    upcast = upcast_from(read_exact(row.upcast)) if row.upcast is not None else upcast_from(None)
    version = SchemaVersion(
        row.type, row.version, schema, row.schema, Compatibility(row.compatibility), upcast
    )
    return StoredSchema(version, row.registered_at, row.actor, row.source)


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

"""The schema registry's versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from revsync.adapters.db.tables import event_schemas
from revsync.domain.schemas import Compatibility, SchemaVersion, upcast_from
from revsync.ports.schemas import StoredSchema
from revsync.schemas.event_schemas import canonical_text, read_exact


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


def _stored(row: sa.Row[Any]) -> StoredSchema:
    schema = read_exact(row.schema)
    upcast = upcast_from(read_exact(row.upcast)) if row.upcast is not None else upcast_from(None)
    version = SchemaVersion(
        row.type, row.version, schema, row.schema, Compatibility(row.compatibility), upcast
    )
    return StoredSchema(version, row.registered_at, row.actor, row.source)

"""The operations console's sessions in SQL."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from revsync.adapters.db.tables import console_sessions
from revsync.ports.console import ConsoleSession


class SqlConsoleSessionStore:
    """:class:`~revsync.ports.console.ConsoleSessionStore` on one connection."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def add(self, session: ConsoleSession) -> None:
        self._conn.execute(
            console_sessions.insert().values(
                token_hash=session.token_hash,
                key_id=session.key_id,
                csrf=session.csrf,
                created_at=session.created_at,
                expires_at=session.expires_at,
            )
        )

    def get(self, token_hash: str) -> ConsoleSession | None:
        row = self._conn.execute(
            sa.select(console_sessions).where(console_sessions.c.token_hash == token_hash)
        ).first()
        if row is None:
            return None
        return ConsoleSession(row.token_hash, row.key_id, row.csrf, row.created_at, row.expires_at)

    def drop(self, token_hash: str) -> bool:
        c = console_sessions.c
        return bool(
            self._conn.execute(console_sessions.delete().where(c.token_hash == token_hash)).rowcount
        )

    def drop_expired(self, now: datetime) -> int:
        c = console_sessions.c
        return int(self._conn.execute(console_sessions.delete().where(c.expires_at < now)).rowcount)

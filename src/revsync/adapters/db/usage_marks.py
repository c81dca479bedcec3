"""Usage marks: sequence numbers for changes to stored usage that insert no event.

Attaching a tenant's unmapped events to its customer and voiding events change what a read of
the usage counts without ingesting anything. Each such change takes a *mark*: a number from
the events' own sequence, above every ``seq`` so far, kept on the events it changed
(``usage_events.attached_seq``, ``voided_events.voided_seq``) and as the latest mark
(``usage_marks``). A snapshot's cutoff is never below the latest mark, and every event
ingested later is numbered above it, so a cutoff places each attach and void before or after
the read as exactly as it places each event: an event was counted at cutoff ``c`` when its
``seq`` and its attach mark are at most ``c`` and it was not voided at or before ``c``.

PostgreSQL takes marks from the ``seq`` sequence under the identity lock held exclusively (no
ingestion transaction is in flight, and none commits a lower number after). SQLite numbers a
new row one above the highest left in the table, so ingestion numbers its first row above the
latest mark when the mark is higher (:data:`SQLITE_ABOVE_MARK`).
"""

from __future__ import annotations

import sqlalchemy as sa

from revsync.adapters.db.engine import IDENTITY_LOCK
from revsync.adapters.db.tables import usage_events, usage_marks, voided_events

_HIGHEST = sa.select(
    sa.select(sa.func.max(usage_events.c.seq)).scalar_subquery(),
    sa.select(usage_marks.c.seq).where(usage_marks.c.id == 1).scalar_subquery(),
)
_HIGHEST_VOIDED = sa.select(sa.func.max(voided_events.c.seq))
_NEXT_PG = sa.select(sa.func.nextval(sa.func.pg_get_serial_sequence("usage_events", "seq")))

#: the latest mark when it is above every stored event (no row otherwise): SQLite ingestion
#: then numbers its first row one above it
SQLITE_ABOVE_MARK = sa.select(usage_marks.c.seq).where(
    usage_marks.c.id == 1,
    usage_marks.c.seq
    > sa.select(sa.func.coalesce(sa.func.max(usage_events.c.seq), 0)).scalar_subquery(),
)


def cutoff(conn: sa.Connection) -> int:
    """The cutoff of a read of the usage on ``conn``: the highest ``seq`` or mark."""
    top, mark = conn.execute(_HIGHEST).one()
    return max(int(top or 0), int(mark or 0))


def take_mark(conn: sa.Connection) -> int:
    """A new mark, above every ``seq`` and mark so far, recorded as the latest; the caller
    records it on the events it changes, in the same transaction. On PostgreSQL the identity
    lock is held exclusively until the transaction ends."""
    if conn.dialect.name == "postgresql":
        lock_for_marks(conn)
        mark = int(conn.execute(_NEXT_PG).scalar_one())
    else:  # the unit of work holds the write lock
        voided = conn.execute(_HIGHEST_VOIDED).scalar()
        mark = max(cutoff(conn), int(voided or 0)) + 1
    moved = conn.execute(usage_marks.update().where(usage_marks.c.id == 1).values(seq=mark))
    if not moved.rowcount:  # a schema made without the migration's row
        conn.execute(usage_marks.insert().values(id=1, seq=mark))
    return mark


def lock_for_marks(conn: sa.Connection) -> None:
    """PostgreSQL: hold the identity lock exclusively (ingestion holds it shared), so that no
    event is written meanwhile; a change that takes a mark takes it before touching events.
    SQLite: the unit of work already holds the write lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(IDENTITY_LOCK)))

"""Bulk inserts: the columns' own bind processors, applied once per value, then one
``executemany`` on the DBAPI cursor (SQLite); SQLAlchemy Core's path elsewhere.

Core processes every parameter set through its statement machinery; for the tens of
thousands of invoice lines a billing run writes, that machinery cost more than the inserts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa


def insert_rows(conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) into ``table``."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(table.insert(), list(rows))
        return
    names = list(rows[0])
    compiled = (
        table.insert().values({n: sa.bindparam(n) for n in names}).compile(dialect=conn.dialect)
    )
    order = list(compiled.positiontup or names)
    processors = {name: table.c[name].type.bind_processor(conn.dialect) for name in order}
    processed = [(name, p) for name, p in processors.items() if p is not None]
    if not processed:
        values = [tuple([row[name] for name in order]) for row in rows]
    else:
        position = {name: i for i, name in enumerate(order)}
        values = []
        for row in rows:
            value = [row[name] for name in order]
            for name, process in processed:
                value[position[name]] = process(row[name])
            values.append(tuple(value))
    conn.exec_driver_sql(str(compiled), values)

"""Months of usage archived as Parquet files (SQLite; docs/architecture.md#usage-archive-on-sqlite).

One file per month, ``usage-2026-07.parquet``, holding every column of the month's
``usage_events`` rows as they were stored, by customer then ingest order, in row groups of
:data:`ROW_GROUP` rows (the lineage read of a few customers skips the others' row groups). A
file is written under a temporary name and flushed to disk (:meth:`ParquetMonths.stage`),
then renamed over its final name and the folder flushed (:meth:`ParquetMonths.publish`): a
crash leaves the final name absent, or holding a whole file.

pyarrow (revsync's ``archive`` extra) is imported when a file is written or read, not before.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

from revsync.domain.usage_months import Month

#: the stored columns of ``usage_events``, in the order of the files' columns
COLUMNS = (
    "seq",
    "dedup_slot",
    "source",
    "event_id",
    "type",
    "subject",
    "time_us",
    "day",
    "customer_id",
    "data",
    "fingerprint",
    "received_us",
    "late",
    "attached_seq",
)
#: what lineage lists of an event (``StoredEvent``'s fields, ``data`` as stored text)
LISTED = ("seq", "source", "event_id", "type", "subject", "time_us", "customer_id", "data")
#: rows per row group (and per batch written)
ROW_GROUP = 65_536
_NULLABLE = frozenset({"customer_id", "attached_seq"})


class ArchiveUnavailable(RuntimeError):
    """An archived month cannot be read or written: pyarrow is missing, or its file is."""


class Arrow(NamedTuple):
    """The pyarrow modules, imported on first use."""

    pa: ModuleType
    pq: ModuleType
    pc: ModuleType


def arrow() -> Arrow:
    """pyarrow, or :class:`ArchiveUnavailable` saying how to install it."""
    try:
        return Arrow(
            importlib.import_module("pyarrow"),
            importlib.import_module("pyarrow.parquet"),
            importlib.import_module("pyarrow.compute"),
        )
    except ImportError:
        raise ArchiveUnavailable(
            "usage archived to Parquet files needs revsync's archive extra (pyarrow): "
            "python3 -m pip install 'revsync[archive]'"
        ) from None


def _schema(pa: ModuleType) -> Any:
    types = {
        "seq": pa.int64(),
        "dedup_slot": pa.int64(),
        "time_us": pa.int64(),
        "day": pa.int32(),
        "fingerprint": pa.binary(),
        "received_us": pa.int64(),
        "late": pa.bool_(),
        "attached_seq": pa.int64(),
    }
    return pa.schema(
        [
            pa.field(name, types.get(name, pa.string()), nullable=name in _NULLABLE)
            for name in COLUMNS
        ],
        metadata={"revsync": "usage_events"},
    )


class ParquetMonths:
    """The folder of the archived months' files."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, month: Month) -> Path:
        """``<folder>/usage-2026-07.parquet``."""
        return self.folder / f"usage-{month.year:04d}-{month.month:02d}.parquet"

    def _staging(self, month: Month) -> Path:
        return self.path(month).with_suffix(".parquet.tmp")

    def stage(self, month: Month, batches: Iterable[Sequence[Sequence[Any]]]) -> int:
        """Write ``batches`` of rows (values in :data:`COLUMNS` order) to the month's
        temporary file, flushed to disk; how many rows it holds. One archiver at a time (the
        worker's leased job): the temporary name is the month's."""
        pa, pq, _ = arrow()
        schema = _schema(pa)
        self.folder.mkdir(parents=True, exist_ok=True)
        staging = self._staging(month)
        written = 0
        try:
            with pq.ParquetWriter(str(staging), schema, compression="zstd") as writer:
                for rows in batches:
                    if not rows:
                        continue
                    columns = [
                        pa.array([row[i] for row in rows], type=field.type)
                        for i, field in enumerate(schema)
                    ]
                    writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=schema))
                    written += len(rows)
            _sync(staging)
        except BaseException:
            staging.unlink(missing_ok=True)
            raise
        return written

    def publish(self, month: Month) -> None:
        """Rename the month's temporary file over its final name, and flush the folder."""
        os.replace(self._staging(month), self.path(month))
        _sync_folder(self.folder)

    def discard(self, month: Month) -> None:
        """Remove the month's temporary file, if any."""
        self._staging(month).unlink(missing_ok=True)

    def rows(self, month: Month) -> int:
        """How many rows the month's file holds (from its footer)."""
        _, pq, _ = arrow()
        return int(pq.read_metadata(str(self._existing(month))).num_rows)

    def batches(self, month: Month) -> Iterable[list[tuple[Any, ...]]]:
        """Every row of the month's file, in :data:`COLUMNS` order, a row group at a time."""
        _, pq, _ = arrow()
        parquet = pq.ParquetFile(str(self._existing(month)))
        for group in range(parquet.num_row_groups):
            table = parquet.read_row_group(group, columns=list(COLUMNS))
            yield list(zip(*(table.column(c).to_pylist() for c in COLUMNS), strict=True))

    def counted(self, month: Month, where: CountedFilter) -> list[tuple[Any, ...]]:
        """The month's events a read cut off at ``where.upto_seq`` counted (as
        ``UsageReader.events`` has them), in :data:`LISTED` order, by ``seq``."""
        if not where.customer_ids:
            return []
        _, pq, pc = arrow()
        f = pc.field
        attached = f("attached_seq").is_null() | (f("attached_seq") <= where.upto_seq)
        condition = (
            f("customer_id").isin(list(where.customer_ids))
            & (f("type") == where.event_type)
            & (f("time_us") >= where.start_us)
            & (f("time_us") < where.end_us)
            & (f("seq") > where.after_seq)
            & (f("seq") <= where.upto_seq)
            & attached
        )
        table = pq.read_table(
            str(self._existing(month)), columns=list(LISTED), filters=condition
        ).sort_by("seq")
        return list(zip(*(table.column(c).to_pylist() for c in LISTED), strict=True))

    def _existing(self, month: Month) -> Path:
        path = self.path(month)
        if not path.is_file():
            raise ArchiveUnavailable(
                f"{path}: the Parquet file of {month.name}, archived usage, is missing "
                "(restore it from a backup: the database no longer holds these events)"
            )
        return path


class CountedFilter(NamedTuple):
    """Which archived events a lineage read lists (``UsageReader.events``' arguments)."""

    customer_ids: Sequence[str]
    event_type: str
    start_us: int
    end_us: int
    upto_seq: int
    after_seq: int


def _sync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; elsewhere the rename is left to the OS)."""
    if os.name != "posix":
        return
    _sync(folder)

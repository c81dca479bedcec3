"""Usage files (managed file exchange): NDJSON and CSV, read in chunks with line numbers.

NDJSON: one CloudEvent per line. CSV: a header with ``id, source, type, subject, time`` and
optionally ``data`` (a JSON object) and ``data.<key>`` columns; a ``data.<key>`` cell is read
as JSON when it is a valid JSON number, ``true``, ``false`` or ``null``, else as a string
(so ``00123`` stays the string "00123"). Every item is decoded by the same code as the HTTP
API, so files and requests follow the same rules.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import msgspec

from revsync.domain.problems import Code, Problem, json_type
from revsync.schemas.cloudevents_v1 import Item, Refused, decode_item, payload_text
from revsync.schemas.wire import json_problem

_REQUIRED = ("id", "source", "type", "subject", "time")
_encode = msgspec.json.Encoder().encode


class FileFormatError(ValueError):
    """The file cannot be read at all (e.g. a CSV header without the required columns)."""


def detect_format(path: Path) -> str:
    """``csv`` for ``*.csv``, else ``ndjson``."""
    return "csv" if path.suffix.lower() == ".csv" else "ndjson"


def read_items(handle: IO[bytes], fmt: str, chunk: int) -> Iterator[list[Item]]:
    """Decoded items in chunks of ``chunk``; each item's index is its 1-based line number."""
    if fmt == "csv":
        yield from _csv_items(handle, chunk)
    else:
        yield from _ndjson_items(handle, chunk)


def _ndjson_items(handle: IO[bytes], chunk: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for number, line in enumerate(handle, start=1):
        raw = line.rstrip(b"\r\n")
        if not raw.strip():
            continue
        batch.append(decode_item(number, raw))
        if len(batch) >= chunk:
            yield batch
            batch = []
    if batch:
        yield batch


def _csv_items(handle: IO[bytes], chunk: int) -> Iterator[list[Item]]:
    text = io.TextIOWrapper(handle, encoding="utf-8", errors="strict", newline="")
    reader = csv.DictReader(text)
    missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise FileFormatError(f"line 1: CSV header lacks required column(s): {', '.join(missing)}")
    batch: list[Item] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except UnicodeDecodeError:
            problem = Problem(
                Code.INVALID_UTF8, "file: invalid UTF-8 from this line on; the rest was not read"
            )
            batch.append(Refused(reader.line_num + 1, problem, ""))
            break
        batch.append(_csv_item(reader.line_num, row))
        if len(batch) >= chunk:
            yield batch
            batch = []
    if batch:
        yield batch


def _csv_item(line: int, row: dict[str, Any]) -> Item:
    if None in row:
        problem = Problem(Code.EXTRA_CELLS, "line: more cells than header columns")
        return Refused(line, problem, payload_text(str(row).encode()))
    event: dict[str, Any] = {k: row[k] for k in _REQUIRED if row.get(k) not in (None, "")}
    data: dict[str, Any] = {}
    if row.get("data"):
        cell = row["data"].encode()
        try:
            data = msgspec.json.decode(cell)
        except msgspec.DecodeError:
            return Refused(line, json_problem(cell, "data"), payload_text(_encode(row)))
        if not isinstance(data, dict):
            problem = Problem(Code.WRONG_TYPE, f"data: expected object, got {json_type(data)}")
            return Refused(line, problem, payload_text(_encode(row)))
    for column, cell in row.items():
        if column.startswith("data.") and cell not in (None, ""):
            data[column[len("data.") :]] = _cell(cell)
    event["data"] = data
    return decode_item(line, _encode(event))


def _cell(cell: str) -> Any:
    """A JSON number, boolean or null keeps its exact text; anything else is a string."""
    raw = cell.strip().encode()
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return cell
    if value is None or isinstance(value, bool | int | float):
        return msgspec.Raw(raw)
    return cell

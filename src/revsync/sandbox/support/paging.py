"""Pages as Zendesk cuts them.

Lists answer in offset pages (``page``, ``per_page``; ``next_page`` / ``previous_page`` absolute
URLs, ``count``) or, when the request names ``page[size]`` (as zenpy does for tickets, users and
organizations), in cursor pages (``meta.has_more``, ``after_cursor``, ``before_cursor``;
``links.next`` / ``links.prev``). Both are in id order; ``per_page`` and ``page[size]`` are cut to
the sandbox's page size (100 unless set).

Incremental exports: the time-based form returns the records changed at or after
``start_time`` in (``updated_at``, id) order; a page ends before its last second when that
second continues on the next page, so a second is never split between pages (a page of one
second only is made longer instead, and the next one starts a second later); ``end_time`` is
where the next page starts. The cursor form walks the sandbox's change sequence, so a record
edited while a client pages comes again later, never lost.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from revsync.sandbox.support.errors import ApiError
from revsync.sandbox.support.store import Record

_MAX_PAGE = 1_000_000


def _bad(description: str) -> ApiError:
    return ApiError(400, {"error": "InvalidPaginationParameter", "description": description})


def number(params: Mapping[str, str], name: str, default: int, high: int = _MAX_PAGE) -> int:
    """A positive whole-number parameter (default when absent), at most ``high``."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 12 or int(raw) < 1:
        raise _bad(f"{name} must be a positive whole number")
    return min(int(raw), high)


def encode_cursor(prefix: str, value: int) -> str:
    """An opaque cursor."""
    return base64.urlsafe_b64encode(f"{prefix}:{value}".encode()).decode().rstrip("=")


def decode_cursor(prefix: str, cursor: str) -> int:
    """The value of a cursor made by ``encode_cursor``; 400 for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError):
        raise _bad("the cursor is invalid") from None
    head, _, value = raw.partition(":")
    if head != prefix or not value.isdigit() or len(value) > 19:
        raise _bad("the cursor is invalid")
    return int(value)


def _link(url: str, params: Mapping[str, str], **changes: Any) -> str:
    kept = {k: v for k, v in params.items() if k not in ("page", "per_page") and "[" not in k}
    return f"{url}?{urlencode({**kept, **changes})}"


def list_page(
    records: Sequence[Record], key: str, url: str, params: Mapping[str, str], max_size: int
) -> Record:
    """One page of ``records`` (in id order) under ``key``, offset or cursor as asked."""
    if any(name.startswith("page[") for name in params):
        return _cursor_page(records, key, url, params, max_size)
    size = number(params, "per_page", max_size, max_size)
    page = number(params, "page", 1)
    start = (page - 1) * size
    more = start + size < len(records)
    return {
        key: list(records[start : start + size]),
        "next_page": _link(url, params, page=page + 1, per_page=size) if more else None,
        "previous_page": _link(url, params, page=page - 1, per_page=size) if page > 1 else None,
        "count": len(records),
    }


def _cursor_page(
    records: Sequence[Record], key: str, url: str, params: Mapping[str, str], max_size: int
) -> Record:
    size = number(params, "page[size]", max_size, max_size)
    after, before = params.get("page[after]"), params.get("page[before]")
    if after and before:
        raise _bad("page[after] and page[before] cannot be combined")
    if before:
        bound = decode_cursor("id", before)
        earlier = [r for r in records if int(r["id"]) < bound]
        chosen, has_more = earlier[-size:], len(earlier) > size
    else:
        bound = decode_cursor("id", after) if after else 0
        later = [r for r in records if int(r["id"]) > bound]
        chosen, has_more = later[:size], len(later) > size
    first = encode_cursor("id", int(chosen[0]["id"])) if chosen else None
    last = encode_cursor("id", int(chosen[-1]["id"])) if chosen else None
    forward_more = has_more if not before else bool(chosen)
    links = {
        "next": _link(url, params, **{"page[after]": last, "page[size]": size})
        if last and forward_more
        else None,
        "prev": _link(url, params, **{"page[before]": first, "page[size]": size})
        if first
        else None,
    }
    meta = {"has_more": has_more, "after_cursor": last, "before_cursor": first}
    return {key: chosen, "meta": meta, "links": links}


def time_export(
    rows: Sequence[tuple[int, Record]],
    key: str,
    url: str,
    start_time: int,
    per_page: int,
    extra: Mapping[str, str],
) -> Record:
    """A time-based incremental page of ``rows`` ((second, record) from ``start_time`` on)."""
    chosen = list(rows[:per_page])
    if len(rows) <= per_page:
        end_time = chosen[-1][0] if chosen else start_time
        done = True
    else:
        last = chosen[-1][0]
        if chosen[0][0] == last:  # one second fills the page: take all of it
            chosen = [row for row in rows if row[0] == last]
            end_time = last + 1
        else:
            chosen = [row for row in chosen if row[0] != last]
            end_time = last
        done = len(chosen) == len(rows)
    return {
        key: [record for _, record in chosen],
        "count": len(chosen),
        "end_time": end_time,
        "next_page": f"{url}?{urlencode({**extra, 'start_time': end_time})}",
        "end_of_stream": done,
    }


def cursor_export(
    rows: Sequence[tuple[int, Record]],
    key: str,
    url: str,
    horizon: int,
    per_page: int,
    extra: Mapping[str, str],
) -> Record:
    """A cursor-based incremental page of ``rows`` ((sequence, record), in change order, none
    after ``horizon``, the sequence when the export was read)."""
    chosen = list(rows[:per_page])
    after = chosen[-1][0] if chosen else horizon
    cursor = encode_cursor("seq", after)
    return {
        key: [record for _, record in chosen],
        "after_cursor": cursor,
        "before_cursor": None,
        "after_url": f"{url}?{urlencode({**extra, 'cursor': cursor})}",
        "before_url": None,
        "end_of_stream": len(rows) <= per_page,
    }

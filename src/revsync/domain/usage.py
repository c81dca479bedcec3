"""Usage events and the rules that decide whether one is accepted, a duplicate or a conflict.

Dedup is namespaced by source: the key of an event is ``(source, id)``. The same key with
the same payload is a duplicate (counted once); with a different payload it is a conflict
(reported, never merged). "Payload" means everything but the key: type, subject, time and
data, compared in canonical form so that key order in ``data`` does not matter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from revsync.domain.problems import Code, Problem

#: longest accepted ``id``, ``source``, ``type`` or ``subject`` (characters)
MAX_ATTRIBUTE_LENGTH = 256
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROS_PER_DAY = 86_400_000_000


class UsageEvent(NamedTuple):
    """A usage event as read from the wire. ``data_json`` is the canonical JSON of ``data``."""

    source: str
    id: str
    type: str
    subject: str
    time: datetime
    data: Mapping[str, Any]
    data_json: str


class Outcome(StrEnum):
    """What happened to one submitted event."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch for an aware datetime (exact, no float)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """The aware UTC datetime for microseconds since the Unix epoch."""
    return _EPOCH + timedelta(microseconds=micros)


def utc_day(micros: int) -> int:
    """Days since the epoch (UTC) of a moment in microseconds; used to partition indexes."""
    return micros // _MICROS_PER_DAY


def event_problem(
    event: UsageEvent, time_us: int, now_us: int, max_future_us: int
) -> Problem | None:
    """Why an event cannot be accepted, or ``None``.

    Identifying attributes must be non-empty and at most ``MAX_ATTRIBUTE_LENGTH`` long; an
    event stamped before the Unix epoch or more than ``max_future_us`` after ``now_us`` is
    refused.
    """
    for name, value in (
        ("id", event.id),
        ("source", event.source),
        ("type", event.type),
        ("subject", event.subject),
    ):
        if not value:
            return Problem(Code.EMPTY_FIELD, f"{name}: must not be empty")
        if len(value) > MAX_ATTRIBUTE_LENGTH:
            return Problem(Code.TOO_LONG, f"{name}: longer than {MAX_ATTRIBUTE_LENGTH} characters")
        if "\x00" in value:  # PostgreSQL stores no NUL in text
            return Problem(Code.INVALID_VALUE, f"{name}: contains a NUL character")
    if time_us < 0:
        return Problem(Code.TIME_OUT_OF_RANGE, "time: before 1970-01-01T00:00:00Z")
    if time_us - now_us > max_future_us:
        hours = max_future_us / 3_600_000_000
        now = from_micros(now_us).isoformat()
        return Problem(
            Code.TIME_OUT_OF_RANGE, f"time: more than {hours:g} h in the future (now is {now})"
        )
    return None


def open_period_start(now: datetime, timezone: ZoneInfo) -> datetime:
    """First instant of the calendar month that contains ``now`` in ``timezone``.

    Until subscriptions define billing periods, the open period is the current calendar
    month of the customer; events stamped before it are *late*.
    """
    local = now.astimezone(timezone)
    return datetime(local.year, local.month, 1, tzinfo=timezone)


def dedup_slot(source: str, event_id: str, probe: int = 0) -> int:
    """The signed 64-bit dedup slot of ``(source, id)`` for open addressing.

    Slots are unique in storage. Two different keys that hash to the same slot (about one
    chance in 10^10 per pair of events) are told apart by comparing the stored key; the
    second key then takes the slot of the next probe.
    """
    key = f"{len(source)}:{source}{event_id}".encode()
    if probe:
        digest = hashlib.blake2b(key, digest_size=8, salt=probe.to_bytes(16, "big")).digest()
    else:
        digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def fingerprint(event: UsageEvent, time_us: int) -> bytes:
    """A 16-byte digest of the payload (everything but the dedup key), in canonical form.

    Each part is length-prefixed, so no two different payloads share an encoding.
    """
    canonical = (
        f"{len(event.type)}:{event.type}{len(event.subject)}:{event.subject}"
        f"{time_us}:{event.data_json}"
    )
    return hashlib.blake2b(canonical.encode(), digest_size=16).digest()


_DIGEST_MODULUS = 1 << 64


def combine_digests(total: int, slot: int) -> int:
    """Add one event to a set digest: the sum of the events' dedup slots (64-bit hashes of
    their keys) modulo 2^64, so that order does not matter and nothing is hashed again."""
    return (total + slot) % _DIGEST_MODULUS


def digest_text(total: int) -> str:
    """A set digest as 16 hex digits."""
    return f"{total:016x}"

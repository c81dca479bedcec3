"""The audit log as a hash chain.

Each entry carries the hash of the entry before it, so that editing or removing any entry
breaks every hash after it. :func:`first_broken` names the first entry that does not match.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: the previous-hash of the very first entry
GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """Who did what to which object, when, with the object before and after the change."""

    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A stored record with its place in the chain."""

    seq: int
    record: AuditRecord
    prev_hash: str
    hash: str


def canonical(record: AuditRecord) -> bytes:
    """The bytes that are hashed: sorted-key JSON of every field, time in ISO 8601."""
    body = {
        "at": record.at.isoformat(),
        "actor": record.actor,
        "action": record.action,
        "object_type": record.object_type,
        "object_id": record.object_id,
        "before": record.before,
        "after": record.after,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def chain_hash(prev_hash: str, record: AuditRecord) -> str:
    """SHA-256 over the previous hash and the canonical record."""
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(record)).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """How many entries hold, and the first that does not (with the reason)."""

    checked: int
    broken: AuditEntry | None = None
    reason: str | None = None


def check_chain(entries: Iterable[AuditEntry]) -> ChainCheck:
    """Recompute the chain from the start; stop at the first entry that does not match."""
    expected_prev = GENESIS
    checked = 0
    for entry in entries:
        if entry.prev_hash != expected_prev:
            return ChainCheck(
                checked, entry, "its previous-hash does not match the entry before it"
            )
        if entry.hash != chain_hash(entry.prev_hash, entry.record):
            return ChainCheck(checked, entry, "its content does not match its hash")
        expected_prev = entry.hash
        checked += 1
    return ChainCheck(checked)

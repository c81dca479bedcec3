"""The audit log as a chain of links, keyed when an audit key is configured.

Each entry carries the link of the entry before it, so that editing or removing any entry
breaks every link after it. A keyed link is an HMAC-SHA256, which nobody without the key can
recompute after an edit. :func:`check_chain` names the first entry that does not hold; the
bytes hashed are written down in docs/governance.md, "The audit chain", for outside verifiers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any

#: the previous-hash of the very first entry
GENESIS = "0" * 64

#: the shortest audit key accepted, in bytes (the size of an HMAC-SHA256 output)
MIN_KEY_BYTES = 32

#: JSON numbers are IEEE doubles: integers beyond this are written as strings (I-JSON)
_SAFE_INTEGER = 2**53 - 1

#: the canonical JSON of RFC 8785 (given by an adapter: the domain imports the standard
#: library only)
Canonicalize = Callable[[Any], bytes]


class Algorithm(StrEnum):
    """How an entry's hash was made; stored with each entry."""

    #: before keyed chains: SHA-256 of sorted-key JSON (Python's ``json.dumps``)
    SHA256_JSON = "sha256-json"
    #: no audit key configured: SHA-256 of the RFC 8785 record
    SHA256_JCS = "sha256-jcs"
    #: HMAC-SHA256 of the RFC 8785 record with the audit key
    HMAC_SHA256_JCS = "hmac-sha256-jcs"

    @property
    def keyed(self) -> bool:
        return self is Algorithm.HMAC_SHA256_JCS


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
    """A stored record with its place in the chain; ``alg`` as stored (one of
    :class:`Algorithm`'s values, or :func:`check_chain` says it is not)."""

    seq: int
    record: AuditRecord
    prev_hash: str
    hash: str
    alg: str = Algorithm.SHA256_JSON


@dataclass(frozen=True, slots=True)
class AuditHead:
    """The writer's note of the chain's end: its last entry's seq, hash and algorithm."""

    seq: int
    hash: str
    alg: str = Algorithm.SHA256_JSON


@dataclass(frozen=True, slots=True)
class Anchor:
    """An entry of the chain as exported to be kept elsewhere (``revsync audit anchor``)."""

    seq: int
    hash: str
    at: str | None = None
    alg: str | None = None

    def to_json(self) -> str:
        """One line of JSON."""
        body = {"seq": self.seq, "hash": self.hash, "at": self.at, "alg": self.alg}
        return json.dumps({k: v for k, v in body.items() if v is not None})


class InvalidAnchor(ValueError):
    """An anchor that cannot be read; the message says why."""


def parse_anchors(text: str) -> list[Anchor]:
    """Anchors from one JSON object per line (blank lines skipped)."""
    anchors = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            anchors.append(_anchor(line, number))
    if not anchors:
        raise InvalidAnchor("no anchor given")
    return anchors


def _anchor(line: str, number: int) -> Anchor:
    where = f"anchor line {number}"
    try:
        data = json.loads(line)
    except ValueError:
        raise InvalidAnchor(f"{where}: not JSON") from None
    if not isinstance(data, dict):
        raise InvalidAnchor(f"{where}: not a JSON object")
    unknown = sorted(set(data) - {"seq", "hash", "at", "alg"})
    if unknown:
        raise InvalidAnchor(f"{where}: unknown field {', '.join(unknown)}")
    seq, digest = data.get("seq"), data.get("hash")
    if type(seq) is not int or seq < 0:
        raise InvalidAnchor(f"{where}: seq must be a whole number from 0")
    if not isinstance(digest, str) or len(digest) != 64 or digest.strip("0123456789abcdef"):
        raise InvalidAnchor(f"{where}: hash must be 64 lowercase hexadecimal digits")
    at, alg = data.get("at"), data.get("alg")
    if not isinstance(at, str | None) or not isinstance(alg, str | None):
        raise InvalidAnchor(f"{where}: at and alg are strings")
    return Anchor(seq, digest, at, alg)


class AuditKey:
    """The secret of the keyed chain. Its repr hides it, so it reaches no log or message."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_KEY_BYTES:
            raise ValueError(f"must hold at least {MIN_KEY_BYTES} bytes")
        self._secret = secret

    def mac(self, message: bytes) -> str:
        """HMAC-SHA256 of ``message``, in lowercase hex."""
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "AuditKey(<hidden>)"


class AuditKeyMissing(Exception):
    """The chain is keyed and this process has no key: it may not append unkeyed entries."""


class UnreadableEntry(Exception):
    """A stored entry that cannot be read back into a record (raised by the store)."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"entry {seq}: {reason}")
        self.seq = seq
        self.reason = reason


def timestamp(moment: datetime) -> str:
    """A time as the chain writes it: UTC, six fraction digits, ``Z``; a naive time as is."""
    if moment.tzinfo is None:
        return moment.isoformat(timespec="microseconds")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def json_data(value: Any) -> Any:
    """``value`` as plain JSON data, the same every time: decimals as strings in plain
    notation, times as :func:`timestamp`, dates ``YYYY-MM-DD``, enums by value, integers
    beyond 2^53-1 as strings, tuples as lists, anything else by ``str``."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Enum):
        return json_data(value.value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value) if -_SAFE_INTEGER <= value <= _SAFE_INTEGER else str(int(value))
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return timestamp(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k if isinstance(k, str) else str(k): json_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_data(v) for v in value]
    return str(value)


def record_data(record: AuditRecord) -> dict[str, Any]:
    """The record as the JSON object that is canonicalised and hashed."""
    return {
        "action": record.action,
        "actor": record.actor,
        "after": json_data(record.after),
        "at": timestamp(record.at),
        "before": json_data(record.before),
        "object_id": record.object_id,
        "object_type": record.object_type,
    }


def canonical_legacy(record: AuditRecord) -> bytes:
    """The bytes entries of :attr:`Algorithm.SHA256_JSON` hash: sorted-key JSON, time in
    ISO 8601 (as written before keyed chains)."""
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


@dataclass(frozen=True, slots=True)
class AuditChain:
    """How links are made and checked: the RFC 8785 encoder, and the audit key if one is
    configured (``key_name`` names where it comes from, for messages)."""

    canonicalize: Canonicalize
    key: AuditKey | None = None
    key_name: str = "the audit key"

    @property
    def algorithm(self) -> Algorithm:
        """What new entries are hashed with."""
        return Algorithm.HMAC_SHA256_JCS if self.key is not None else Algorithm.SHA256_JCS

    def stored_json(self, value: Mapping[str, Any] | None) -> str | None:
        """``before`` or ``after`` as stored: its canonical JSON (None stays None)."""
        return None if value is None else self.canonicalize(json_data(value)).decode()

    def canonical(
        self, record: AuditRecord, before: str | None = None, after: str | None = None
    ) -> bytes:
        """RFC 8785 of :func:`record_data`, put together from its members (their order is
        the RFC's, fixed since the keys are); ``before`` / ``after`` as :meth:`stored_json`
        gave them, if at hand."""
        encode = self.canonicalize
        if before is None and record.before is not None:
            before = self.stored_json(record.before)
        if after is None and record.after is not None:
            after = self.stored_json(record.after)
        return b"".join(
            (
                b'{"action":',
                encode(record.action),
                b',"actor":',
                encode(record.actor),
                b',"after":',
                b"null" if after is None else after.encode(),
                b',"at":',
                encode(timestamp(record.at)),
                b',"before":',
                b"null" if before is None else before.encode(),
                b',"object_id":',
                encode(record.object_id),
                b',"object_type":',
                encode(record.object_type),
                b"}",
            )
        )

    def link(self, alg: Algorithm, prev_hash: str, canonical: bytes) -> str:
        """The hash of an entry: over ``prev_hash``, a newline and ``canonical``."""
        message = prev_hash.encode() + b"\n" + canonical
        if alg is Algorithm.HMAC_SHA256_JCS:
            if self.key is None:
                raise AuditKeyMissing(f"{self.key_name} is not set")
            return self.key.mac(message)
        return hashlib.sha256(message).hexdigest()

    def recompute(self, alg: Algorithm, prev_hash: str, record: AuditRecord) -> str:
        """The hash a stored entry should have."""
        if alg is Algorithm.SHA256_JSON:
            return self.link(alg, prev_hash, canonical_legacy(record))
        return self.link(alg, prev_hash, self.canonical(record))

    def seal(
        self, head: AuditHead, record: AuditRecord, before: str | None, after: str | None
    ) -> tuple[Algorithm, str]:
        """The algorithm and hash of a new entry after ``head``; an unkeyed entry never
        follows a keyed one (:class:`AuditKeyMissing`)."""
        if self.key is None and head.alg == Algorithm.HMAC_SHA256_JCS:
            raise AuditKeyMissing(
                f"the audit chain is keyed (entry {head.seq} is) and {self.key_name} is not "
                "set: audited changes are refused until it is"
            )
        alg = self.algorithm
        return alg, self.link(alg, head.hash, self.canonical(record, before, after))


def anchor_of(entry: AuditEntry) -> Anchor:
    """The anchor that pins ``entry``."""
    return Anchor(entry.seq, entry.hash, timestamp(entry.record.at), entry.alg)


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """How many entries hold, and otherwise the first problem: the entry it names (``seq``,
    with ``broken`` when that entry is stored) and why. ``unverifiable``: the check could not
    be made (a keyed entry and no key), which says nothing of tampering."""

    checked: int
    broken: AuditEntry | None = None
    reason: str | None = None
    seq: int | None = None
    unverifiable: bool = False
    algorithms: Mapping[str, int] = field(default_factory=dict)
    end: AuditEntry | None = None

    @property
    def intact(self) -> bool:
        return self.reason is None


def check_chain(
    entries: Iterable[AuditEntry],
    chain: AuditChain,
    head: AuditHead | None = None,
    anchors: Sequence[Anchor] = (),
) -> ChainCheck:
    """Recompute the chain from the start and stop at the first entry that does not hold;
    then check that the head row's entry and each anchored one are in it with their hashes.
    With a key, no unkeyed entry may follow a keyed one, and the chain must end keyed."""
    return _Walk(chain, head, anchors).run(entries)


class _Walk:
    """One pass over the chain (see :func:`check_chain`)."""

    def __init__(
        self, chain: AuditChain, head: AuditHead | None, anchors: Sequence[Anchor]
    ) -> None:
        self.chain = chain
        #: seq → (the hash it must have, whose pin it is)
        self.pins: dict[int, tuple[str, str]] = {}
        for anchor in anchors:
            self.pins.setdefault(anchor.seq, (anchor.hash, "the anchored"))
        if head is not None:  # the head row's wording wins over an anchor's at the same seq
            self.pins[head.seq] = (head.hash, "the head row's")
        if self.pins.get(0, (GENESIS, ""))[0] == GENESIS:
            self.pins.pop(0, None)  # the empty chain: nothing to find
        self.next_pin = min(self.pins, default=None)
        self.checked = 0
        self.counts: dict[str, int] = {}
        self.last: AuditEntry | None = None
        self.last_keyed: AuditEntry | None = None
        self.unkeyed_since: AuditEntry | None = None

    def result(
        self, reason: str, seq: int, broken: AuditEntry | None = None, *, unverifiable: bool = False
    ) -> ChainCheck:
        return ChainCheck(
            self.checked, broken, reason, seq, unverifiable, dict(self.counts), self.last
        )

    def run(self, entries: Iterable[AuditEntry]) -> ChainCheck:
        prev = GENESIS
        stored = iter(entries)
        while True:
            try:
                entry = next(stored, None)
            except UnreadableEntry as error:
                return self.result(f"{error.reason}: it was edited", error.seq)
            if entry is None:
                break
            problem = self.entry_problem(entry, prev)
            if problem is not None:
                return problem
            prev = entry.hash
            self.last = entry
            self.checked += 1
            self.counts[entry.alg] = self.counts.get(entry.alg, 0) + 1
        return self.end_problem() or ChainCheck(
            self.checked, algorithms=dict(self.counts), end=self.last
        )

    def missing(self, seq: int, more: str = "") -> ChainCheck:
        whose = self.pins[seq][1]
        return self.result(f"entry {seq} is missing ({whose} entry){more}", seq)

    def entry_problem(self, entry: AuditEntry, prev: str) -> ChainCheck | None:
        if self.next_pin is not None and self.next_pin < entry.seq:
            return self.missing(self.next_pin, ": it was removed")
        if entry.prev_hash != prev:
            before = "the chain's start" if self.last is None else f"entry {self.last.seq}"
            return self.result(
                f"its previous-hash does not match the hash of {before}: an entry was "
                "removed or changed before it",
                entry.seq,
                entry,
            )
        try:
            alg = Algorithm(entry.alg)
        except ValueError:
            return self.result(f"its algorithm {entry.alg!r} is unknown", entry.seq, entry)
        if alg.keyed:
            self.last_keyed, self.unkeyed_since = entry, None
            if self.chain.key is None:
                return self.result(
                    f"it is keyed and {self.chain.key_name} is not set: it cannot be checked",
                    entry.seq,
                    entry,
                    unverifiable=True,
                )
        elif self.last_keyed is not None:
            return self.result(
                f"it is not keyed ({alg}) but follows keyed entry {self.last_keyed.seq}: "
                "the chain was rewritten without the key",
                entry.seq,
                entry,
            )
        elif self.unkeyed_since is None:
            self.unkeyed_since = entry
        try:
            recomputed = self.chain.recompute(alg, prev, entry.record)
        except ValueError as error:
            return self.result(
                f"its content is not JSON data that RFC 8785 takes ({error}): it was edited",
                entry.seq,
                entry,
            )
        if entry.hash != recomputed:
            detail = " (or it was written with another key)" if alg.keyed else ""
            return self.result(
                f"its content does not match its hash{detail}: it was edited", entry.seq, entry
            )
        if entry.seq == self.next_pin:
            pinned, whose = self.pins.pop(entry.seq)
            self.next_pin = min(self.pins, default=None)
            if pinned != entry.hash:
                return self.result(
                    f"its hash is not {whose} one ({pinned[:16]}…): the chain was rewritten "
                    "from here on",
                    entry.seq,
                    entry,
                )
        return None

    def end_problem(self) -> ChainCheck | None:
        if self.next_pin is not None:
            end = 0 if self.last is None else self.last.seq
            return self.missing(
                self.next_pin,
                f" and the chain ends at entry {end}: entries were removed from its end",
            )
        if self.chain.key is not None and self.unkeyed_since is not None:
            first = self.unkeyed_since
            return self.result(
                f"entries from {first.seq} to the end are not keyed though {self.chain.key_name} "
                "is set: keyed entries were removed or rewritten without the key",
                first.seq,
                first,
            )
        return None

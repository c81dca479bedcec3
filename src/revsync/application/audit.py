"""The audit log: start the chain with this process's key, verify it, anchor it, list it."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from revsync.domain.audit import (
    GENESIS,
    Algorithm,
    Anchor,
    AuditChain,
    AuditEntry,
    AuditKeyMissing,
    AuditRecord,
    ChainCheck,
    anchor_of,
    check_chain,
)
from revsync.domain.errors import DomainError
from revsync.ports.clock import Clock
from revsync.ports.repositories import UnitOfWorkFactory

log = logging.getLogger(__name__)


class ChainStart(StrEnum):
    """How this process writes to the chain."""

    KEYED = "keyed"
    #: the chain did not end keyed: an ``audit.keyed`` entry now says keying starts here
    STARTED_KEYED = "started_keyed"
    #: no key: plain SHA-256 links, which anyone able to write to the database can recompute
    UNKEYED = "unkeyed"


class HeadMismatch(DomainError):
    """The head row does not name an entry of the chain; ``revsync audit verify`` says more."""


class Audit:
    """Reads the audit log, and makes sure it is written as the audit key says."""

    def __init__(self, unit_of_work: UnitOfWorkFactory, clock: Clock, chain: AuditChain) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._chain = chain

    def start(self, actor: str) -> ChainStart:
        """With a key, make the chain end keyed (``verify`` expects it to); without one, warn,
        or refuse (:class:`AuditKeyMissing`) when the chain is keyed already."""
        with self._uow() as uow:
            head = uow.audit.head()
            keyed = head.alg == Algorithm.HMAC_SHA256_JCS
            if self._chain.key is None:
                if keyed:
                    raise AuditKeyMissing(
                        f"the audit chain is keyed (entry {head.seq} is) and "
                        f"{self._chain.key_name} is not set"
                    )
                log.warning(
                    "audit.unkeyed: %s is not set: audit entries are chained with plain "
                    "SHA-256, which anyone able to write to the database can recompute after "
                    "an edit (docs/governance.md, 'The audit chain')",
                    self._chain.key_name,
                )
                return ChainStart.UNKEYED
            if keyed or head.seq == 0:
                return ChainStart.KEYED
            uow.audit.append(
                AuditRecord(
                    at=self._clock.now(),
                    actor=actor,
                    action="audit.keyed",
                    object_type="audit",
                    object_id="chain",
                    before={"alg": head.alg},
                    after={"alg": self._chain.algorithm.value},
                )
            )
            uow.commit()
        return ChainStart.STARTED_KEYED

    def record_configuration(self, settings: Mapping[str, Any], actor: str) -> bool:
        """Append a ``configuration.changed`` entry when the effective settings differ from the
        last ones recorded (secrets already removed by the caller). Returns True if recorded."""
        with self._uow() as uow:
            last = uow.audit.latest("configuration", "settings")
            before = None if last is None else last.record.after
            if before == settings:
                return False
            uow.audit.append(
                AuditRecord(
                    at=self._clock.now(),
                    actor=actor,
                    action="configuration.changed",
                    object_type="configuration",
                    object_id="settings",
                    before=before,
                    after=dict(settings),
                )
            )
            uow.commit()
        return True

    def verify(self, anchors: Sequence[Anchor] = ()) -> ChainCheck:
        """Recompute every link; check the head row's entry and each anchored one are in the
        chain with their hashes; name the first entry that does not hold."""
        with self._uow(write=False) as uow:
            head = uow.audit.head()  # read first: entries appended meanwhile come after it
            return check_chain(uow.audit.entries(), self._chain, head, anchors)

    def anchor(self) -> Anchor:
        """The chain's end as the head row names it, to be kept elsewhere."""
        with self._uow(write=False) as uow:
            head = uow.audit.head()
            entry = None if head.seq == 0 else uow.audit.get(head.seq)
        if head.seq == 0 and head.hash == GENESIS:
            return Anchor(0, GENESIS)
        if entry is None or entry.hash != head.hash:
            raise HeadMismatch(
                f"the head row names entry {head.seq}, which is not in the chain with its "
                "hash; run revsync audit verify"
            )
        return anchor_of(entry)

    def entries(self, *, after: int | None, limit: int) -> list[AuditEntry]:
        """Entries in order, after sequence number ``after``."""
        with self._uow(write=False) as uow:
            result: list[AuditEntry] = []
            for entry in uow.audit.entries(after=after):
                result.append(entry)
                if len(result) >= limit:
                    break
            return result

"""Audit log queries: verify the chain, list entries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from revsync.domain.audit import AuditEntry, AuditRecord, ChainCheck, check_chain
from revsync.ports.clock import Clock
from revsync.ports.repositories import UnitOfWorkFactory


class Audit:
    """Reads the audit log."""

    def __init__(self, unit_of_work: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = unit_of_work
        self._clock = clock

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

    def verify(self) -> ChainCheck:
        """Recompute every hash; name the first entry whose link or hash does not match."""
        with self._uow(write=False) as uow:
            return check_chain(uow.audit.entries())

    def entries(self, *, after: int | None, limit: int) -> list[AuditEntry]:
        """Entries in order, after sequence number ``after``."""
        with self._uow(write=False) as uow:
            result: list[AuditEntry] = []
            for entry in uow.audit.entries(after=after):
                result.append(entry)
                if len(result) >= limit:
                    break
            return result

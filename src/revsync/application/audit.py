"""Audit log queries: verify the chain, list entries."""

from __future__ import annotations

from revsync.domain.audit import AuditEntry, ChainCheck, check_chain
from revsync.ports.repositories import UnitOfWorkFactory


class Audit:
    """Reads the audit log."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._uow = unit_of_work

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

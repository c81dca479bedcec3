"""Quarantined events: kept aside as dead letters while their type has no schema, and
released through ingestion once it has one."""

from __future__ import annotations

from dataclasses import dataclass

from revsync.application.ingestion import IngestContext, Ingestion
from revsync.application.schemas import SchemaRegistry
from revsync.domain.audit import AuditRecord
from revsync.ports.clock import Clock
from revsync.ports.repositories import UnitOfWorkFactory
from revsync.schemas.cloudevents_v1 import Decoded, Item, decode_item

#: quarantined events read and ingested per transaction
PAGE = 500


@dataclass(slots=True)
class ReleaseReport:
    """What a release did: events ingested (accepted, duplicates, refused) and those left
    in quarantine because their type still has no schema."""

    released: int = 0
    accepted: int = 0
    duplicates: int = 0
    refused: int = 0
    waiting: int = 0


class Quarantine:
    """Releases quarantined events whose type is now declared."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        ingestion: Ingestion,
        registry: SchemaRegistry,
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._ingestion = ingestion
        self._registry = registry

    def release(self, actor: str, event_type: str | None = None) -> ReleaseReport:
        """Ingest again every quarantined event (of ``event_type``, or of any type) whose type
        now has a schema or a meter; each is then marked ``released``. Ingestion's dedup makes
        a release that is interrupted and run again harmless."""
        self._registry.refresh(force=True)
        report = ReleaseReport()
        after: int | None = None
        while True:
            with self._uow(write=False) as uow:
                letters = uow.dead_letters.quarantined(after, PAGE)
            if not letters:
                break
            after = letters[-1].id
            items: list[Item] = []
            ids: list[int] = []
            for stored in letters:
                item = decode_item(len(items), stored.letter.payload.encode())
                if not isinstance(item, Decoded):  # cannot happen: revsync wrote it
                    continue
                kind = item.event.type
                if (event_type is not None and kind != event_type) or not self._registry.known(
                    kind
                ):
                    report.waiting += 1
                    continue
                items.append(item)
                ids.append(stored.id)
            if not items:
                continue
            outcome = self._ingestion.ingest(items, IngestContext("release", actor))
            report.released += len(items)
            report.accepted += outcome.accepted
            report.duplicates += outcome.duplicates
            report.refused += len(outcome.rejected)
            with self._uow() as uow:
                uow.dead_letters.mark_released(ids)
                uow.commit()
        if report.released:
            with self._uow() as uow:
                uow.audit.append(
                    AuditRecord(
                        at=self._clock.now(),
                        actor=actor,
                        action="schema.quarantine_released",
                        object_type="event_type",
                        object_id=event_type or "*",
                        before=None,
                        after={
                            "released": report.released,
                            "accepted": report.accepted,
                            "duplicates": report.duplicates,
                            "refused": report.refused,
                        },
                    )
                )
                uow.commit()
        return report

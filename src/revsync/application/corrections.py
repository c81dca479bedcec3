"""Usage corrections: void stored events, add compensating ones, with a reason, audited.

Voided events leave the usage (no query, no billing run counts them) but keep their dedup
claims, so the same event sent again is never counted anew. Their customers' usage is marked
for a billing recheck from the earliest voided event, so that a finalized invoice that counted
them is adjusted on the next invoice (as for late usage). Added events are ingested as any
batch is (channel ``correction``), after the voids commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from revsync.application.ingestion import IngestContext, Ingestion, IngestReport
from revsync.domain.audit import AuditRecord
from revsync.domain.errors import InvalidField
from revsync.ports.clock import Clock, IdSource
from revsync.ports.repositories import UnitOfWorkFactory
from revsync.schemas.cloudevents_v1 import Item

#: the most events one correction may void
MAX_VOIDS = 1000
#: the longest reason kept
MAX_REASON = 2000


@dataclass(frozen=True, slots=True)
class CorrectUsage:
    """A correction: events to void by ``(source, id)``, events to add, and why."""

    reason: str
    void: tuple[tuple[str, str], ...]
    add: Sequence[Item]
    actor: str
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class CorrectionReport:
    """What a correction did."""

    id: str
    voided: tuple[tuple[str, str], ...]
    already_voided: tuple[tuple[str, str], ...]
    added: IngestReport | None


class UsageCorrections:
    """Governed changes to usage already stored."""

    def __init__(
        self, unit_of_work: UnitOfWorkFactory, clock: Clock, ids: IdSource, ingestion: Ingestion
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._ids = ids
        self._ingestion = ingestion

    def correct(self, request: CorrectUsage) -> CorrectionReport:
        """Void, then add; a key that matches no stored event refuses the whole correction
        (nothing is voided)."""
        reason = request.reason.strip()
        if not reason:
            raise InvalidField("reason", "say why the usage is corrected")
        if len(reason) > MAX_REASON:
            raise InvalidField("reason", f"longer than {MAX_REASON} characters")
        if not request.void and not request.add:
            raise InvalidField("void", "name events to void or give events to add")
        if len(request.void) > MAX_VOIDS:
            raise InvalidField("void", f"at most {MAX_VOIDS} events per correction")
        correction_id = self._ids.new_id("corr")
        now = self._clock.now()
        with self._uow() as uow:
            outcome = uow.usage.void_events(request.void, correction_id, now)
            if outcome.missing:
                source, event_id = outcome.missing[0]
                more = f" (and {len(outcome.missing) - 1} more)" if len(outcome.missing) > 1 else ""
                raise InvalidField(
                    "void", f"no stored event with source {source!r} and id {event_id!r}{more}"
                )
            uow.usage.record_correction(
                correction_id, reason, request.actor, len(outcome.voided), now
            )
            uow.audit.append(
                AuditRecord(
                    now,
                    request.actor,
                    "usage.corrected",
                    "usage_correction",
                    correction_id,
                    None,
                    {
                        "reason": reason,
                        "voided": [list(key) for key in outcome.voided],
                        "added": len(request.add),
                    },
                )
            )
            uow.commit()
        added = None
        if request.add:
            context = IngestContext("correction", request.actor, request.correlation_id)
            added = self._ingestion.ingest(request.add, context)
        return CorrectionReport(correction_id, outcome.voided, outcome.already_voided, added)

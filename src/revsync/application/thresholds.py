"""The threshold watcher: usage thresholds reached as the usage arrives, each fired once.

A sweep reads the usage ingested since the last one (by ingest sequence number, from a
usage snapshot), takes the subscriptions that count it, rates their open usage period as
it stands (:meth:`~revsync.application.billing.Billing.progress`) and records each
threshold reached under (subscription, key, period) — in the transaction that announces
``usage.threshold_crossed`` and, for a spend threshold with ``invoice``, issues the interim
invoice — then moves its watermark. A crossing recorded before (an earlier sweep, another
process, a sweep again over the same usage after a restart or a replay) is not recorded,
announced or billed again. The worker runs sweeps every ``thresholds.poll_seconds`` under a
lease, so one process watches at a time: a crossing is recorded within that time and two
sweeps of the commit of the usage that made it (the sweep under way when it arrived, which
read before it, and the next).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date, datetime

from revsync.application.announcements import Announcer
from revsync.application.billing import Billing, Progress
from revsync.domain.identity import System
from revsync.domain.thresholds import Crossing, ThresholdKind, crossed
from revsync.ports.billing import UsageSnapshots
from revsync.ports.clock import Clock
from revsync.ports.delivery import NewMessage
from revsync.ports.repositories import UnitOfWorkFactory
from revsync.ports.thresholds import CrossingRecord

#: the watermark of the sweeps (``usage_watermarks.name``)
WATERMARK = "thresholds"
#: the announcement of a crossing
CROSSED = "usage.threshold_crossed"


@dataclass(slots=True)
class Sweep:
    """What one sweep did."""

    after_seq: int
    cutoff_seq: int
    customers: int = 0
    watched: int = 0
    crossings: list[CrossingRecord] = field(default_factory=list)
    interim_invoices: list[str] = field(default_factory=list)
    #: customers looked at again because their usage became theirs late (a tenant mapped)
    rechecked: set[str] = field(default_factory=set)


class ThresholdWatch:
    """Sweeps new usage for thresholds reached (see the module docstring)."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        snapshots: UsageSnapshots,
        billing: Billing,
        announcer: Announcer,
        clock: Clock,
        failpoint: Callable[[str], None] | None = None,
        actor: str = "thresholds",
    ) -> None:
        """``failpoint``: called with a name where a crash matters (the crash tests')."""
        self._failpoint = failpoint or (lambda name: None)
        self._uow = unit_of_work
        self._snapshots = snapshots
        self._billing = billing
        self._announcer = announcer
        self._clock = clock
        self._actor = actor

    def sweep(self, after_seq: int | None = None) -> Sweep:
        """Look at the usage ingested after the watermark (or after ``after_seq``: a replay
        from there) and record what it made reach a threshold."""
        with self._uow(write=False) as uow:
            start = uow.thresholds.watermark(WATERMARK) if after_seq is None else after_seq
            declared = uow.thresholds.any_declared()
            rechecks = uow.thresholds.rechecks()
        with self._snapshots.snapshot() as snapshot:
            changed = set(snapshot.late_customers(start)) | rechecks if declared else set()
            report = Sweep(start, snapshot.cutoff_seq, customers=len(changed))
            report.rechecked = rechecks
            progress = self._billing.progress(snapshot, changed) if changed else []
        report.watched = len(progress)
        reached = [
            (p, c)
            for p in progress
            for c in crossed(p.thresholds, p.plan.included(), p.usage, p.spend)
        ]
        if reached:
            since = min(p.period.start for p, _ in reached)
            with self._uow(write=False) as uow:
                done = uow.thresholds.recorded({p.subscription.id for p, _ in reached}, since)
            reached = [
                (p, c)
                for p, c in reached
                if (p.subscription.id, c.threshold.key, p.period.start) not in done
            ]
        if not reached and report.cutoff_seq == start and not rechecks:
            return report
        self._write(reached, report)
        return report

    def _write(self, reached: list[tuple[Progress, Crossing]], report: Sweep) -> None:
        by_subscription: dict[str, list[tuple[Progress, Crossing]]] = defaultdict(list)
        for progress, crossing in reached:
            by_subscription[progress.subscription.id].append((progress, crossing))
        now = self._clock.now()
        with self._uow() as uow:
            if any(c.threshold.invoice for _, c in reached):
                uow.invoices.lock()
            messages: list[NewMessage] = []
            for group in by_subscription.values():
                progress = group[0][0]
                invoicing = [c for _, c in group if c.threshold.invoice]
                interim_key = (
                    max(invoicing, key=lambda c: c.limit).threshold.key if invoicing else None
                )
                interim = None
                if interim_key is not None:
                    interim = self._billing.issue_interim(
                        uow, progress, interim_key, now, self._actor
                    )
                    if interim is not None:
                        report.interim_invoices.append(interim.id)
                records = [
                    _record(
                        progress,
                        crossing,
                        now,
                        interim.id
                        if interim is not None and crossing.threshold.key == interim_key
                        else None,
                    )
                    for _, crossing in group
                ]
                for record in uow.thresholds.record(records):
                    report.crossings.append(record)
                    number = (
                        interim.number
                        if interim is not None and record.interim_invoice_id
                        else None
                    )
                    messages += self._announce(progress, record, number)
            uow.outbox.add(messages, now)
            uow.thresholds.set_watermark(WATERMARK, max(report.cutoff_seq, report.after_seq), now)
            uow.thresholds.clear_rechecks(report.rechecked)
            self._failpoint("thresholds.before_commit")
            uow.commit()

    def _announce(
        self, progress: Progress, record: CrossingRecord, interim_number: str | None
    ) -> list[NewMessage]:
        customer = progress.customer
        crm = customer.refs_in(System.CRM)
        threshold = next(t for t in progress.thresholds if t.key == record.threshold_key)
        return self._announcer.messages(
            CROSSED,
            aggregate=f"customer:{customer.id}",
            object_type="subscription",
            object_id=record.subscription_id,
            key_parts=(
                record.subscription_id,
                record.threshold_key,
                record.period_start.isoformat(),
            ),
            payload={
                "customer_id": customer.id,
                "customer_name": customer.name,
                "crm_account_id": crm[0] if crm else None,
                "subscription_id": record.subscription_id,
                "plan": f"{progress.plan.code}@{progress.plan.version}",
                "threshold": {
                    "key": threshold.key,
                    "kind": threshold.kind.value,
                    "meter": threshold.meter,
                    "value": threshold.value,
                    "invoice": threshold.invoice,
                },
                "period": {
                    "start": record.period_start.isoformat(),
                    "end": record.period_end.isoformat(),
                },
                "limit": record.limit,
                "observed": record.observed,
                "currency": record.currency,
                "crossed_at": record.crossed_at.isoformat(),
                "interim_invoice_id": record.interim_invoice_id,
                "interim_invoice_number": interim_number,
            },
            correlation_id=None,
        )

    def crossings(
        self,
        customer_ids: Collection[str] | None,
        after: tuple[datetime, str, str, date] | None,
        limit: int,
    ) -> list[CrossingRecord]:
        """Crossings newest first (see :meth:`ThresholdStore.page`)."""
        with self._uow(write=False) as uow:
            return uow.thresholds.page(customer_ids=customer_ids, after=after, limit=limit)


def _record(
    progress: Progress, crossing: Crossing, now: datetime, interim_id: str | None
) -> CrossingRecord:
    threshold = crossing.threshold
    return CrossingRecord(
        subscription_id=progress.subscription.id,
        threshold_key=threshold.key,
        period_start=progress.period.start,
        period_end=progress.period.end,
        customer_id=progress.subscription.customer_id,
        kind=threshold.kind,
        meter=threshold.meter,
        limit=crossing.limit,
        observed=crossing.observed,
        currency=progress.plan.currency if threshold.kind is ThresholdKind.SPEND else None,
        cutoff_seq=progress.cutoff_seq,
        crossed_at=now,
        interim_invoice_id=interim_id,
    )

"""Reconciliation runs (``revsync reconcile``, ``POST /v1/reconciliations``, and the worker on
``reconciliation.schedule``): each finalized usage line against the events behind it, every
invoice and credit note against the ERP, read back through the ERP port, and the CRM account
fields revsync owns against what it last sent, read back through the CRM port.

Each discrepancy opens one exception case of kind ``reconciliation`` (or brings the open one up
to date), with both sides' values; a run resolves the open cases of the checks it ran, about
lines and documents it compared, that it no longer finds (a run over a shorter window leaves the
older ones alone). The run and its findings are kept.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterator, Sequence
from datetime import date, datetime

from revsync.application.billing import Billing
from revsync.application.crm import CrmMapping, contract_terms
from revsync.domain.audit import AuditRecord
from revsync.domain.crm import subscription_id
from revsync.domain.delivery import CaseKind, CaseStatus
from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import Invoice, InvoiceStatus, Lineage, LineKind
from revsync.domain.reconciliation import (
    KINDS,
    Booked,
    Check,
    ContractView,
    Finding,
    ReconciliationRun,
    SentSignals,
    SubscriptionView,
    compare_contracts,
    compare_ledger,
    compare_lineage,
    compare_signals,
    summary,
)
from revsync.ports.billing import InvoiceFilter
from revsync.ports.clock import Clock, IdSource
from revsync.ports.crm import Crm
from revsync.ports.delivery import Case
from revsync.ports.erp import Erp
from revsync.ports.repositories import UnitOfWorkFactory

log = logging.getLogger(__name__)

#: invoices whose usage lines are checked (a draft is not billed yet)
_BILLED = frozenset(
    {InvoiceStatus.FINALIZED, InvoiceStatus.POSTED, InvoiceStatus.PAID, InvoiceStatus.VOID}
)
_PAGE = 500


class Reconciliation:
    """Runs reconciliations and reads their results."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        ids: IdSource,
        billing: Billing,
        erp_destination: str,
        crm_destination: str,
        crm_mapping: CrmMapping | None = None,
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._ids = ids
        self._billing = billing
        self._erp_destination = erp_destination
        self._crm_destination = crm_destination
        self._crm_mapping = crm_mapping

    async def run(
        self,
        checks: Collection[Check],
        since: date,
        actor: str,
        erp: Erp | None = None,
        correlation_id: str | None = None,
        crm: Crm | None = None,
    ) -> ReconciliationRun:
        """Compare what ``checks`` name for the documents issued ``since`` or later, record the
        findings as cases and keep the run."""
        if not checks:
            raise InvalidField("checks", "name at least one check")
        if Check.ERP in checks and erp is None:
            raise InvalidField("checks", "the erp check needs an ERP (erp.url is not set)")
        if Check.CRM in checks and crm is None:
            raise InvalidField("checks", "the crm check needs a CRM (crm.url is not set)")
        started = self._clock.now()
        findings: list[Finding] = []
        checked: dict[str, int] = {}
        compared: set[str] = set()  # "<object type>:<object id>" of everything compared
        if Check.USAGE in checks:  # database work in a thread: a worker's relay shares the loop
            lines, found = await asyncio.to_thread(self._usage, since)
            checked[Check.USAGE.value] = len(lines)
            compared.update(f"invoice_line:{line}" for line in lines)
            findings.extend(found)
        if Check.ERP in checks:
            assert erp is not None
            ledger = await erp.ledger(since)
            # an invoice issued before ``since`` may be dated later in the ERP (rolled forward
            # out of a closed period): its key is looked up too, lest it seem unknown
            keys = {e.key for e in ledger if e.key}
            booked = await asyncio.to_thread(self._booked, since, keys)
            checked[Check.ERP.value] = len(booked)
            compared.update(f"invoice:{b.invoice_id}" for b in booked)
            compared.update(f"erp_invoice:{e.remote_id}" for e in ledger)
            findings.extend(compare_ledger(booked, ledger))
        if Check.CRM in checks:
            assert crm is not None
            sent = await asyncio.to_thread(self._sent_signals)
            fields = sorted({name for signals in sent for name in signals.values})
            read = await crm.accounts([s.account_id for s in sent], fields) if sent else {}
            compared.update(f"customer:{s.customer_id}" for s in sent)
            findings.extend(compare_signals(sent, read))
            contracts = await self._contracts(crm)
            subscriptions = await asyncio.to_thread(self._contract_subscriptions)
            checked[Check.CRM.value] = len(sent) + len(contracts)
            compared.update(f"subscription:{c.subscription_id}" for c in contracts)
            compared.update(f"subscription:{s}" for s in subscriptions)
            findings.extend(compare_contracts(contracts, subscriptions))
        return await asyncio.to_thread(
            self._record,
            sorted(checks),
            since,
            actor,
            started,
            checked,
            compared,
            findings,
            correlation_id,
        )

    def get(self, run_id: str) -> ReconciliationRun | None:
        """A run, with its findings."""
        with self._uow(write=False) as uow:
            return uow.reconciliations.get(run_id)

    def runs(self, *, before: str | None, limit: int) -> list[ReconciliationRun]:
        """Runs, newest first."""
        with self._uow(write=False) as uow:
            return uow.reconciliations.page(before=before, limit=limit)

    async def _contracts(self, crm: Crm) -> list[ContractView]:
        """Every contract in the CRM, in revsync's terms (one that cannot be read — a bad date,
        a count that is no number — is left out: the CRM sync refuses it with the reason)."""
        mapping = self._crm_mapping
        if mapping is None:
            return []
        pulled = await crm.pull("Contract", mapping.contract_read, None)
        contracts = []
        for record in pulled.records:
            try:
                terms = contract_terms(record, mapping)
            except InvalidField:
                continue
            plan = mapping.plans.get(terms.plan, terms.plan) if terms.plan else None
            contracts.append(
                ContractView(
                    record.id,
                    subscription_id(record.id),
                    terms.account_id,
                    terms.active and not record.deleted,
                    plan,
                    terms.seats,
                    terms.renewal_date,
                )
            )
        return contracts

    def _contract_subscriptions(self) -> dict[str, SubscriptionView]:
        with self._uow(write=False) as uow:
            return uow.reconciliations.contract_subscriptions()

    def _sent_signals(self) -> list[SentSignals]:
        with self._uow(write=False) as uow:
            return uow.reconciliations.sent_signals(self._crm_destination)

    def _booked(self, since: date, keys: Collection[str]) -> list[Booked]:
        with self._uow(write=False) as uow:
            return uow.reconciliations.booked(self._erp_destination, since, keys)

    def _usage(self, since: date) -> tuple[list[str], list[Finding]]:
        """Each usage line of the invoices issued ``since`` or later, its events read again:
        the lines compared (``<invoice id>/<line key>``) and what differs."""
        findings: list[Finding] = []
        counted: dict[Lineage, tuple[int, str]] = {}
        lines: list[str] = []
        unread: set[str] = set()
        for invoice in self._billed(since):
            assert invoice.number is not None
            for line in invoice.lines:
                lineage = line.lineage
                if line.kind is not LineKind.USAGE or lineage is None:
                    continue
                if lineage not in counted:  # the parts of a tiered charge share one
                    found = self._billing.recount(lineage)
                    if found is None:  # its meter is no longer configured: nothing to read by
                        unread.add(lineage.meter)
                        continue
                    counted[lineage] = found
                lines.append(f"{invoice.id}/{line.key}")
                billed = (lineage.events, lineage.events_hash)
                findings.extend(
                    compare_lineage(invoice.id, invoice.number, line.key, billed, counted[lineage])
                )
        if unread:
            log.warning(
                "reconciliation: usage lines of meters no longer configured were not checked: %s",
                ", ".join(sorted(unread)),
            )
        return lines, findings

    def _billed(self, since: date) -> Iterator[Invoice]:
        """The billed invoices issued ``since`` or later, read a page at a time."""
        after: str | None = None
        while True:
            with self._uow(write=False) as uow:
                page = uow.invoices.page(InvoiceFilter(), after=after, limit=_PAGE)
            yield from (
                i
                for i in page
                if i.status in _BILLED and i.number is not None and i.issue_date >= since
            )
            if len(page) < _PAGE:
                return
            after = page[-1].id

    def _record(
        self,
        checks: Sequence[Check],
        since: date,
        actor: str,
        started: datetime,
        checked: dict[str, int],
        compared: set[str],
        findings: list[Finding],
        correlation_id: str | None,
    ) -> ReconciliationRun:
        run_id = self._ids.new_id("rec")
        with self._uow() as uow:
            now = self._clock.now()
            opened = [
                uow.cases.open_reconciliation(
                    Case(
                        id=self._ids.new_id("case"),
                        kind=CaseKind.RECONCILIATION,
                        status=CaseStatus.OPEN,
                        object_type=finding.object_type,
                        object_id=finding.object_id,
                        opened_at=now,
                        updated_at=now,
                        correlation_id=correlation_id,
                        last_error=finding.message,
                        details={
                            "finding": finding.key,
                            "run_id": run_id,
                            "ours": dict(finding.ours),
                            "theirs": dict(finding.theirs),
                        },
                    ),
                    finding.key,
                )
                for finding in findings
            ]
            kinds = {kind.value for check in checks for kind in KINDS[check]}
            closed = uow.cases.settle_reconciliation(
                kinds,
                compared,
                {f.key for f in findings},
                now,
                actor,
                f"reconciliation {run_id} no longer finds it",
            )
            run = ReconciliationRun(
                id=run_id,
                started_at=started,
                finished_at=now,
                since=since,
                actor=actor,
                checks=tuple(checks),
                checked=checked,
                findings=findings,
                opened=tuple(opened),
                closed=tuple(closed),
            )
            uow.reconciliations.save(run)
            uow.audit.append(
                AuditRecord(
                    now,
                    actor,
                    "reconciliation.run",
                    "reconciliation",
                    run_id,
                    None,
                    {
                        "checks": [c.value for c in checks],
                        "since": since.isoformat(),
                        "checked": checked,
                        "findings": summary(findings),
                        "cases_closed": len(closed),
                    },
                )
            )
            uow.commit()
        return run

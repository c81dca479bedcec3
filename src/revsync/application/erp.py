"""The ERP side of revsync: recording postings the relay made (invoice ``posted``, the ERP's
number, the customer's ERP party in the identity map, roll-forwards in the audit log), and
the scheduled payment sync (``paid``, overdue and dunning levels, announced to the CRM and
success tools, and the collections ladder moved on them) with the revenue recognition the ERP
does not schedule itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from revsync.application.announcements import Announcer, PaymentNews
from revsync.application.collections import Collections, CollectionsReport
from revsync.domain.audit import AuditRecord
from revsync.domain.delivery import OutboundMessage
from revsync.domain.identity import ExternalRef, System
from revsync.domain.invoicing import InvoiceStatus
from revsync.ports.clock import Clock, IdSource
from revsync.ports.erp import Erp, ErpInvoiceState, PostingRecord
from revsync.ports.repositories import UnitOfWork, UnitOfWorkFactory

ACTOR = "system:erp"
#: a won deal, whose sale order the ERP places
DEAL_TAKEN = "deal.taken"
#: how many invoices one state query asks the ERP about
_BATCH = 200


class ErpReceipts:
    """:class:`~revsync.ports.delivery.ReceiptHandler` for the ERP destination: records the
    posting and announces it (``invoice.posted``) in the transaction that marks the message
    delivered."""

    def __init__(self, announcer: Announcer | None = None) -> None:
        self._announcer = announcer or Announcer()

    def apply(
        self, uow: UnitOfWork, message: OutboundMessage, receipt: Mapping[str, str], at: datetime
    ) -> None:
        if message.kind == DEAL_TAKEN:
            self._sale(uow, message, receipt, at)
            return
        invoice = uow.invoices.get(message.object_id)
        if invoice is None:
            return
        rolled = receipt.get("rolled_forward_from")
        posting = PostingRecord(
            invoice_id=invoice.id,
            remote_id=receipt["erp_invoice_id"],
            number=receipt["erp_number"],
            party=receipt["erp_party"],
            invoice_date=date.fromisoformat(receipt["erp_invoice_date"]),
            rolled_forward_from=date.fromisoformat(rolled) if rolled else None,
        )
        if not uow.postings.record(posting, at):
            return  # recorded before (a lookup after a lost answer finds the same posting)
        uow.outbox.add(self._announcer.invoice_posted(invoice, posting, message.correlation_id), at)
        if invoice.status is InvoiceStatus.FINALIZED:
            uow.invoices.set_status(invoice.id, InvoiceStatus.POSTED, at)
        self._remember_party(uow, invoice.customer_id, posting.party)
        records = [
            AuditRecord(
                at,
                ACTOR,
                "invoice.posted",
                "invoice",
                invoice.id,
                {"status": invoice.status.value},
                {
                    "status": InvoiceStatus.POSTED.value
                    if invoice.status is InvoiceStatus.FINALIZED
                    else invoice.status.value,
                    "erp_number": posting.number,
                    "erp_invoice_date": posting.invoice_date.isoformat(),
                },
            )
        ]
        if posting.rolled_forward_from is not None:
            records.append(
                AuditRecord(
                    at,
                    ACTOR,
                    "invoice.rolled_forward",
                    "invoice",
                    invoice.id,
                    {"invoice_date": posting.rolled_forward_from.isoformat()},
                    {
                        "invoice_date": posting.invoice_date.isoformat(),
                        "reason": "the ERP could not take the invoice date (its period was "
                        "closed, or later invoices were numbered already): posted on the next "
                        "date it could",
                    },
                )
            )
        uow.audit.append_many(records)

    @staticmethod
    def _sale(
        uow: UnitOfWork, message: OutboundMessage, receipt: Mapping[str, str], at: datetime
    ) -> None:
        """A deal's sale order was placed: kept with its lines' ids (invoices link to them)."""
        lines = json.loads(receipt.get("erp_sale_lines") or "{}")
        sale_id, number = receipt["erp_sale_id"], receipt["erp_sale_number"]
        if not uow.deals.record_sale(message.object_id, sale_id, number, lines, at):
            return  # recorded before (a lookup after a lost answer finds the same sale)
        uow.audit.append(
            AuditRecord(
                at,
                ACTOR,
                "deal.ordered",
                "opportunity",
                message.object_id,
                None,
                {"erp_sale_id": sale_id, "erp_sale_number": number, "lines": lines},
            )
        )

    @staticmethod
    def _remember_party(uow: UnitOfWork, customer_id: str, party: str) -> None:
        """The customer's ERP party goes into the identity map, once."""
        if not party:
            return
        uow.customers.lock_identity()
        customer = uow.customers.get(customer_id)
        if customer is None or customer.refs_in(System.ERP):
            return
        ref = ExternalRef(System.ERP, party)
        if uow.customers.owners_of([ref]):
            return  # another customer holds that party: leave the map as the operator set it
        uow.customers.save(replace(customer, refs=(*customer.refs, ref)))


@dataclass(slots=True)
class SyncReport:
    """What a payment sync found."""

    checked: int = 0
    paid: list[str] = field(default_factory=list)
    overdue: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)
    dunnings: int = 0
    deferrals: int = 0
    #: customer id → (rung before, rung after) for each move on the collections ladder
    collections: CollectionsReport = field(default_factory=CollectionsReport)


class ErpStatusSync:
    """The scheduled pull of payment states from the ERP (``revsync erp sync``, and the
    worker every ``erp.sync_interval_seconds``), after raising the dunnings that are due."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        ids: IdSource,
        announcer: Announcer,
        collections: Collections | None = None,
    ) -> None:
        """``collections``: the ladder moved after each sync on what it read."""
        self._uow = unit_of_work
        self._clock = clock
        self._ids = ids
        self._news = PaymentNews(announcer)
        self._collections = collections

    async def run(self, erp: Erp) -> SyncReport:
        """Settle credit notes against the invoices they credit, raise the dunnings that are
        due, read the ERP's state of every unpaid posted invoice, record what changed, announce
        payments and overdue invoices, then book the revenue recognition that is due."""
        report = SyncReport()
        today = self._clock.now().date()
        with self._uow(write=False) as uow:
            credited = uow.postings.credits_to_settle()
        for posting, notes in credited:
            if await erp.settle(posting.remote_id, notes) == 0:
                report.settled.append(posting.invoice_id)
        with self._uow(write=False) as uow:
            unpaid = uow.postings.unpaid()
        if unpaid:
            report.dunnings = await erp.run_collections(today)
        for start in range(0, len(unpaid), _BATCH):
            batch = unpaid[start : start + _BATCH]
            states = await erp.states([p.remote_id for p in batch], today)
            self._record(batch, states, report)
            report.checked += len(batch)
        if self._collections is not None:
            correlation = self._ids.new_id("sync")
            report.collections = await asyncio.to_thread(self._collections.run, correlation)
        report.deferrals = await erp.run_deferrals()
        return report

    def _record(
        self,
        batch: Sequence[PostingRecord],
        states: Mapping[str, ErpInvoiceState],
        report: SyncReport,
    ) -> None:
        correlation = self._ids.new_id("sync")
        with self._uow() as uow:
            now = self._clock.now()
            for posting in batch:
                state = states.get(posting.remote_id)
                if state is None:
                    continue
                updated = replace(
                    posting,
                    paid=state.paid,
                    amount_to_pay=state.amount_to_pay,
                    due_date=state.due_date,
                    overdue=state.overdue,
                    dunning_level=state.dunning_level,
                )
                if updated == posting:
                    continue
                uow.postings.update(updated, now)
                self._announce(uow, posting, updated, now, correlation, report)
            uow.commit()

    def _announce(
        self,
        uow: UnitOfWork,
        before: PostingRecord,
        after: PostingRecord,
        now: datetime,
        correlation: str,
        report: SyncReport,
    ) -> None:
        invoice = uow.invoices.get(after.invoice_id)
        if invoice is None or invoice.credits_invoice or invoice.status is InvoiceStatus.VOID:
            return  # a credit note, or a voided invoice, is settled, never paid nor overdue
        if after.paid and not before.paid:
            report.paid.append(invoice.id)
            if invoice.status in (InvoiceStatus.FINALIZED, InvoiceStatus.POSTED):
                uow.invoices.set_status(invoice.id, InvoiceStatus.PAID, now)
                uow.audit.append(
                    AuditRecord(
                        now,
                        ACTOR,
                        "invoice.paid",
                        "invoice",
                        invoice.id,
                        {"status": invoice.status.value},
                        {"status": InvoiceStatus.PAID.value, "erp_number": after.number},
                    )
                )
            uow.outbox.add(self._news.paid(invoice, after.number, correlation), now)
        newly_overdue = after.overdue and (
            not before.overdue or after.dunning_level != before.dunning_level
        )
        if newly_overdue and not after.paid:
            report.overdue.append(invoice.id)
            uow.outbox.add(
                self._news.overdue(
                    invoice,
                    after.number,
                    after.amount_to_pay or invoice.totals.total,
                    after.due_date,
                    after.dunning_level,
                    correlation,
                ),
                now,
            )

"""Service credits asked on support tickets, the second half of issue-to-resolution.

An agent tags a ticket (``support.credit_tag``) and fills in the credit fields: an amount, or a
percent of an invoice's net total, the invoice (revsync's number or the ERP's) and a reason.
The support sync checks it against the customer's invoices and ``support.credit_limit``: a
credit that cannot be made is refused with the reason; one that can opens an approval case.
Approving the case (a ``finance`` key) makes the credit note through billing — posted to the
ERP like any invoice — and closing it otherwise refuses the credit. The ticket hears of each
step in an internal note, and of the credit note's ERP number, once posted, in a public
comment. One credit per ticket; each step is audited and done once (the request is keyed by
the ticket, the decision is taken only while it is requested, notes and comments go through
the outbox under their keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from revsync.application.announcements import Announcer
from revsync.application.billing import Billing
from revsync.application.health import billed_invoices
from revsync.domain.audit import AuditRecord
from revsync.domain.delivery import CaseKind, CaseStatus
from revsync.domain.errors import Conflict, NotFound
from revsync.domain.identity import Customer
from revsync.domain.invoicing import Invoice
from revsync.domain.money import quantum
from revsync.domain.support import CreditRefused, credit_ask, credit_lines
from revsync.ports.clock import Clock, IdSource
from revsync.ports.delivery import Case, NewMessage
from revsync.ports.repositories import UnitOfWork, UnitOfWorkFactory
from revsync.ports.support import TICKET_COMMENT, CreditRecord, Ticket

ACTOR = "system:support"


class ServiceCredits:
    """Credits asked on tickets: checked, approved or refused, issued and told."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        ids: IdSource,
        billing: Billing,
        announcer: Announcer,
        *,
        tag: str,
        limit: Decimal,
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._ids = ids
        self._billing = billing
        self._announcer = announcer
        self._tag = tag
        self._limit = limit

    # --- asked ---------------------------------------------------------------------------

    def take(
        self, tickets: Sequence[tuple[Ticket, Customer]], correlation_id: str | None = None
    ) -> list[int]:
        """Check the credits the tagged tickets ask for, each ticket once: refused with the
        reason, or requested with an approval case. The tickets whose credit was taken."""
        asking = [(t, c) for t, c in tickets if self._tag in t.tags]
        if not asking:
            return []
        taken = []
        now = self._clock.now()
        with self._uow() as uow:
            held = uow.support.credits([t.id for t, _ in asking])
            for ticket, customer in asking:
                if ticket.id in held:
                    continue
                record = self._check(uow, ticket, customer, now)
                if record.status == "requested":
                    record = replace(record, case_id=self._open_case(uow, record, now))
                uow.support.add_credit(record)
                uow.outbox.add(
                    self._comment(record, _asked_note(record), False, correlation_id), now
                )
                self._audit(uow, f"service_credit.{record.status}", record, ACTOR, now)
                taken.append(ticket.id)
            uow.commit()
        return taken

    def _check(
        self, uow: UnitOfWork, ticket: Ticket, customer: Customer, now: datetime
    ) -> CreditRecord:
        reason = str(ticket.fields.get("credit_reason") or "").strip()[:500]
        record = CreditRecord(ticket.id, customer.id, "requested", reason, now)
        try:
            ask = credit_ask(ticket.fields)
            invoice = self._invoice(uow, customer, ask.invoice)
            lines = credit_lines(
                ask,
                sum((line.amount for line in invoice.lines), Decimal(0)),
                self._billing.creditable(uow, invoice),
                quantum(invoice.currency),
                self._limit,
            )
        except CreditRefused as refused:
            return replace(record, status="refused", explanation=str(refused), decided_at=now)
        return replace(
            record,
            invoice_id=invoice.id,
            lines=lines,
            total=sum(lines.values(), Decimal(0)),
            currency=invoice.currency,
        )

    @staticmethod
    def _invoice(uow: UnitOfWork, customer: Customer, named: str) -> Invoice:
        """The customer's invoice by revsync's number or the ERP's."""
        invoices = billed_invoices(uow, uow.subscriptions.of_customer(customer.id))
        postings = uow.postings.many([i.id for i in invoices])
        for invoice in invoices:
            posting = postings.get(invoice.id)
            if named in (invoice.number, posting.number if posting else None):
                return invoice
        raise CreditRefused(f"{customer.name} has no invoice {named!r} to credit")

    def _open_case(self, uow: UnitOfWork, record: CreditRecord, now: datetime) -> str:
        assert record.total is not None
        return uow.cases.open_approval(
            Case(
                id=self._ids.new_id("case"),
                kind=CaseKind.SERVICE_CREDIT,
                status=CaseStatus.OPEN,
                object_type="ticket",
                object_id=str(record.ticket_id),
                opened_at=now,
                updated_at=now,
                last_error=(
                    f"service credit of {record.total} {record.currency} asked on ticket "
                    f"{record.ticket_id}: {record.reason}"
                ),
                details={
                    "customer_id": record.customer_id,
                    "invoice_id": record.invoice_id,
                    "lines": {k: str(v) for k, v in (record.lines or {}).items()},
                    "total": str(record.total),
                    "currency": record.currency,
                },
            )
        )

    # --- decided -------------------------------------------------------------------------

    def approve(self, case_id: str, actor: str, reason: str) -> Invoice:
        """Make the credit note of the case's credit, and settle the credit and the case with
        it in one transaction (a second approval finds it decided: Conflict)."""
        with self._uow(write=False) as uow:
            record = uow.support.credit_of_case(case_id)
        if record is None:
            raise NotFound("service credit of case", case_id)
        if record.status != "requested":
            raise Conflict(f"the service credit was {record.status} already")
        assert record.invoice_id is not None and record.lines is not None

        def settle(uow: UnitOfWork, note: Invoice) -> None:
            now = self._clock.now()
            issued = replace(
                record, status="issued", credit_note_id=note.id, decided_at=now, decided_by=actor
            )
            if not uow.support.decide_credit(issued):
                raise Conflict("the service credit was decided meanwhile")
            uow.cases.set_status(case_id, CaseStatus.RESOLVED, now, by=actor, reason=reason)
            text = (
                f"Service credit approved by {actor}: credit note {note.number} of "
                f"{-note.totals.total} {note.currency} (tax included). Its ERP number follows "
                f"once posted."
            )
            uow.outbox.add(self._comment(issued, text, False, None, step="approved"), now)
            self._audit(uow, "service_credit.issued", issued, actor, now)

        return self._billing.credit(
            record.invoice_id,
            record.lines,
            f"service credit, ticket {record.ticket_id}: {record.reason}",
            actor,
            then=settle,
        )

    def refuse(self, uow: UnitOfWork, case: Case, actor: str, reason: str, now: datetime) -> None:
        """The case was closed without approval: the credit is refused (in the caller's
        transaction)."""
        record = uow.support.credit_of_case(case.id)
        if record is None or record.status != "requested":
            return
        refused = replace(
            record,
            status="refused",
            explanation=f"refused by {actor}: {reason}",
            decided_at=now,
            decided_by=actor,
        )
        if uow.support.decide_credit(refused):
            uow.outbox.add(self._comment(refused, _asked_note(refused), False, None), now)
            self._audit(uow, "service_credit.refused", refused, actor, now)

    # --- told ----------------------------------------------------------------------------

    def announce(self, correlation_id: str | None = None) -> list[int]:
        """Tell each ticket whose credit note the ERP has posted: a public comment with the
        ERP's number. The tickets told."""
        told = []
        now = self._clock.now()
        with self._uow() as uow:
            for record in uow.support.credits_to_announce():
                assert record.credit_note_id is not None
                posting = uow.postings.get(record.credit_note_id)
                note = uow.invoices.get(record.credit_note_id)
                if posting is None or note is None or note.credits_invoice is None:
                    continue  # not posted yet
                credited = uow.invoices.get(note.credits_invoice)
                on = f" on invoice {credited.number}" if credited and credited.number else ""
                text = (  # public: the reason, written for finance, is not repeated here
                    f"We have issued a service credit of {-note.totals.total} {note.currency}"
                    f"{on}: credit note {note.number}, ERP number {posting.number}."
                )
                uow.outbox.add(
                    self._comment(record, text, True, correlation_id, step="issued"), now
                )
                uow.support.set_announced(record.ticket_id)
                told.append(record.ticket_id)
            uow.commit()
        return told

    # --- helpers -------------------------------------------------------------------------

    def _comment(
        self,
        record: CreditRecord,
        body: str,
        public: bool,
        correlation_id: str | None,
        *,
        step: str | None = None,
    ) -> list[NewMessage]:
        key = f"credit:{record.ticket_id}:{step or record.status}"
        return self._announcer.messages(
            TICKET_COMMENT,
            aggregate=f"ticket:{record.ticket_id}",
            object_type="ticket",
            object_id=str(record.ticket_id),
            key_parts=(key,),
            payload={"ticket_id": record.ticket_id, "key": key, "body": body, "public": public},
            correlation_id=correlation_id,
        )

    @staticmethod
    def _audit(
        uow: UnitOfWork, action: str, record: CreditRecord, actor: str, now: datetime
    ) -> None:
        uow.audit.append(
            AuditRecord(
                now,
                actor,
                action,
                "ticket",
                str(record.ticket_id),
                None,
                {
                    "customer_id": record.customer_id,
                    "invoice_id": record.invoice_id,
                    "total": None if record.total is None else str(record.total),
                    "reason": record.reason,
                    "case_id": record.case_id,
                    "credit_note_id": record.credit_note_id,
                    "explanation": record.explanation,
                },
            )
        )


def _asked_note(record: CreditRecord) -> str:
    """The internal note of a credit just asked or refused."""
    if record.status == "refused":
        return f"Service credit refused: {record.explanation}."
    lines = ", ".join(f"{key} {amount}" for key, amount in sorted((record.lines or {}).items()))
    return (
        f"Service credit of {record.total} {record.currency} (before tax) asked: {lines}. "
        f"Awaiting approval by finance (case {record.case_id})."
    )

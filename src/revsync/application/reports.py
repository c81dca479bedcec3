"""Reports: deferred revenue — what annual fees billed in advance have left to recognise, and
the month-by-month schedule (the schedule the ERP books through its deferrals)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from revsync.domain.invoicing import Invoice, InvoiceKind, InvoiceStatus, LineKind
from revsync.domain.periods import Period
from revsync.domain.posting import Recognition, deferred, recognition_schedule
from revsync.ports.billing import InvoiceFilter
from revsync.ports.repositories import UnitOfWorkFactory

#: invoices whose revenue counts (a voided invoice's fee was never earned)
_COUNTED = (InvoiceStatus.FINALIZED, InvoiceStatus.POSTED, InvoiceStatus.PAID)


@dataclass(frozen=True, slots=True)
class DeferredLine:
    """One fee recognised over time."""

    invoice_id: str
    number: str | None
    line_key: str
    description: str
    amount: Decimal
    service: Period
    schedule: list[Recognition]
    recognised: Decimal  # in the months before the as-of date's month

    @property
    def deferred(self) -> Decimal:
        """What is left to recognise."""
        return self.amount - self.recognised


@dataclass(slots=True)
class CustomerDeferrals:
    """A customer's deferred revenue in one currency."""

    customer_id: str
    currency: str
    lines: list[DeferredLine] = field(default_factory=list)

    @property
    def deferred(self) -> Decimal:
        return sum((line.deferred for line in self.lines), Decimal(0))

    def by_month(self) -> list[Recognition]:
        """The customer's whole schedule, month by month."""
        months: dict[date, Decimal] = {}
        for line in self.lines:
            for entry in line.schedule:
                months[entry.month] = months.get(entry.month, Decimal(0)) + entry.amount
        return [Recognition(month, amount) for month, amount in sorted(months.items())]


class Reports:
    """Read-only reports over invoices."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._uow = unit_of_work

    def deferred_revenue(
        self, as_of: date, customer_id: str | None = None
    ) -> list[CustomerDeferrals]:
        """Recurring fees billed for service periods longer than a month, with their
        recognition schedule by day over calendar months; recognised means in a month before
        ``as_of``'s month."""
        this_month = as_of.replace(day=1)
        found: dict[tuple[str, str], CustomerDeferrals] = {}
        for invoice in self._invoices(customer_id):
            for line in invoice.lines:
                if line.kind is not LineKind.RECURRING or not deferred(line.service):
                    continue
                schedule = recognition_schedule(line.amount, line.service, invoice.currency)
                recognised = sum((e.amount for e in schedule if e.month < this_month), Decimal(0))
                key = (invoice.customer_id, invoice.currency)
                entry = found.setdefault(key, CustomerDeferrals(*key))
                entry.lines.append(
                    DeferredLine(
                        invoice.id,
                        invoice.number,
                        line.key,
                        line.description,
                        line.amount,
                        line.service,
                        schedule,
                        recognised,
                    )
                )
        return [found[key] for key in sorted(found)]

    def _invoices(self, customer_id: str | None) -> Iterator[Invoice]:
        after = None
        with self._uow(write=False) as uow:
            while True:
                page = uow.invoices.page(
                    InvoiceFilter(customer_id=customer_id, kind=InvoiceKind.ADVANCE),
                    after=after,
                    limit=500,
                )
                yield from (i for i in page if i.status in _COUNTED)
                if len(page) < 500:
                    return
                after = page[-1].id

"""Shadow re-rates on the wire (version 1): the API's answer and ``revsync rerate --json``.
Money and quantities are decimal strings; a percent is one too (two decimals), or null when
nothing was issued to compare with."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from revsync.domain.money import plain, quantum
from revsync.domain.rerating import CustomerDiff, LineDiff, PeriodDiff, Rerate


def rerate_out(report: Rerate, *, detail: bool = True) -> dict[str, Any]:
    """A re-rate: the candidate, the days, the overall figures, the rankings and every
    customer (with its periods and lines when ``detail``)."""
    money = _Money(report.currency)
    return {
        "plan": report.plan,
        "stored": report.stored,
        "replaces": report.replaces,
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "currency": report.currency,
        "tax": "excluded",
        "usage_cutoff_seq": report.usage_cutoff_seq,
        "totals": {
            "customers": len(report.customers),
            "periods": sum(len(c.periods) for c in report.customers),
            **money.figures(report.issued, report.rerated, report.relative),
        },
        "top": {
            "by_amount": [money.summary(c) for c in report.by_amount],
            "by_percent": [money.summary(c) for c in report.by_share],
        },
        "customers": [
            {**money.summary(c), "periods": [money.period(p) for p in c.periods]}
            if detail
            else money.summary(c)
            for c in report.customers
        ],
        "errors": [
            {
                "subscription_id": e.subscription_id,
                "customer_id": e.customer_id,
                "period": str(e.period) if e.period else None,
                "reason": e.reason,
            }
            for e in report.errors
        ],
    }


class _Money:
    """Amounts written in the currency's minor unit (a side with no line is 0.00, not 0)."""

    def __init__(self, currency: str) -> None:
        self._unit = quantum(currency)

    def __call__(self, amount: Decimal) -> str:
        return plain(amount.quantize(self._unit))

    def figures(
        self, issued: Decimal, rerated: Decimal, relative: Decimal | None
    ) -> dict[str, Any]:
        return {
            "issued": self(issued),
            "rerated": self(rerated),
            "difference": self(rerated - issued),
            "difference_percent": None if relative is None else plain(relative),
        }

    def summary(self, customer: CustomerDiff) -> dict[str, Any]:
        return {
            "customer_id": customer.customer_id,
            **self.figures(customer.issued, customer.rerated, customer.relative),
        }

    def period(self, diff: PeriodDiff) -> dict[str, Any]:
        return {
            "subscription_id": diff.subscription_id,
            "kind": diff.kind.value,
            "period": {"start": diff.period.start.isoformat(), "end": diff.period.end.isoformat()},
            "invoice_id": diff.invoice_id,
            "number": diff.number,
            "issued": self(diff.issued),
            "rerated": self(diff.rerated),
            "difference": self(diff.difference),
            "lines": [self.line(x) for x in diff.lines],
        }

    def line(self, line: LineDiff) -> dict[str, Any]:
        return {
            "key": line.key,
            "description": line.description,
            "issued_quantity": plain(line.issued_quantity),
            "issued": self(line.issued),
            "rerated_quantity": plain(line.rerated_quantity),
            "rerated": self(line.rerated),
            "difference": self(line.difference),
        }

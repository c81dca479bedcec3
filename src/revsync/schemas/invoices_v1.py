"""Invoices and credit notes on the wire (version 1): the API's answers and the documents
revsync announces to destinations. Money and quantities are ``Decimal`` here; encoders write
them as decimal strings."""

from __future__ import annotations

from typing import Any

from revsync.domain.invoicing import Invoice, Line, Lineage


def invoice_out(invoice: Invoice) -> dict[str, Any]:
    """An invoice or credit note on the wire; money as decimal strings."""
    totals = invoice.totals
    return {
        "id": invoice.id,
        "number": invoice.number,
        "document": "credit_note"
        if invoice.kind.value == "credit_note" or totals.total < 0
        else "invoice",
        "kind": invoice.kind.value,
        "status": invoice.status.value,
        "customer_id": invoice.customer_id,
        "subscription_id": invoice.subscription_id,
        "currency": invoice.currency,
        "period": {
            "start": invoice.period.start.isoformat(),
            "end": invoice.period.end.isoformat(),
        },
        "issue_date": invoice.issue_date.isoformat(),
        "lines": [line_out(line) for line in invoice.lines],
        "taxes": [
            {"tax_code": t.tax_code, "rate": t.rate, "base": t.base, "amount": t.amount}
            for t in invoice.taxes
        ],
        "totals": {
            "subtotal": totals.subtotal,
            "discount": totals.discount,
            "tax": totals.tax,
            "total": totals.total,
            "credits": totals.credits,
            "amount_due": totals.amount_due,
        },
        "credits_invoice": invoice.credits_invoice,
        "consolidated_into": invoice.consolidated_into,
    }


def line_out(line: Line) -> dict[str, Any]:
    """An invoice line on the wire."""
    return {
        "key": line.key,
        "kind": line.kind.value,
        "charge": line.charge,
        "description": line.description,
        "quantity": line.quantity,
        "unit_amount": line.unit_amount,
        "amount": line.amount,
        "service": {"start": line.service.start.isoformat(), "end": line.service.end.isoformat()},
        "tax_code": line.tax_code,
        "lineage": None if line.lineage is None else lineage_out(line.lineage),
        "adjusts": line.adjusts,
    }


def lineage_out(lineage: Lineage) -> dict[str, Any]:
    """The usage behind a line."""
    return {
        "meter": lineage.meter,
        "window": {"start": lineage.start.isoformat(), "end": lineage.end.isoformat()},
        "customer_ids": list(lineage.customer_ids),
        "group": dict(lineage.group),
        "events": lineage.events,
        "events_hash": lineage.events_hash,
    }

"""What revsync announces to other systems: each change that others must hear of becomes one
outbox message per destination that subscribed to its kind, written in the transaction of the
change (promise 3), with an idempotency key derived from what it represents (promise 4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from revsync.domain.delivery import idempotency_key
from revsync.domain.invoicing import Invoice
from revsync.ports.delivery import NewMessage
from revsync.schemas.invoices_v1 import invoice_out
from revsync.schemas.wire import plain_decimals


class Announcer:
    """Routes announcements to the destinations that want them."""

    def __init__(self, routes: Mapping[str, Sequence[str]] | None = None) -> None:
        """``routes``: event kind → destination names."""
        self._routes = {kind: tuple(names) for kind, names in (routes or {}).items()}

    def messages(
        self,
        kind: str,
        *,
        aggregate: str,
        object_type: str,
        object_id: str,
        key_parts: Sequence[str],
        payload: Mapping[str, Any],
        correlation_id: str | None,
    ) -> list[NewMessage]:
        """One message per destination subscribed to ``kind`` (none when nobody is)."""
        destinations = self._routes.get(kind, ())
        if not destinations:
            return []
        key = idempotency_key(kind, *key_parts)
        return [
            NewMessage(
                destination=name,
                aggregate=aggregate,
                kind=kind,
                object_type=object_type,
                object_id=object_id,
                key=key,
                payload=plain_decimals(payload),  # stored as it will be sent
                correlation_id=correlation_id,
            )
            for name in destinations
        ]

    def invoice_finalized(self, invoice: Invoice, correlation_id: str | None) -> list[NewMessage]:
        """An invoice got its number (a credit note too: see ``document``)."""
        kind = "credit_note.issued" if invoice.credits_invoice else "invoice.finalized"
        return self.messages(
            kind,
            aggregate=f"customer:{invoice.customer_id}",
            object_type="credit_note" if invoice.credits_invoice else "invoice",
            object_id=invoice.id,
            key_parts=(invoice.id, invoice.number or ""),
            payload=invoice_out(invoice),
            correlation_id=correlation_id,
        )

    def invoice_voided(
        self, invoice: Invoice, note: Invoice, reason: str, correlation_id: str | None
    ) -> list[NewMessage]:
        """An invoice was voided by a credit note."""
        return self.messages(
            "invoice.voided",
            aggregate=f"customer:{invoice.customer_id}",
            object_type="invoice",
            object_id=invoice.id,
            key_parts=(invoice.id, note.id),
            payload={
                "invoice_id": invoice.id,
                "number": invoice.number,
                "credit_note_id": note.id,
                "credit_note_number": note.number,
                "reason": reason,
            },
            correlation_id=correlation_id,
        )

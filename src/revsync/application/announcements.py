"""What revsync announces to other systems: each change that others must hear of becomes one
outbox message per destination that subscribed to its kind, written in the transaction of the
change (promise 3), with an idempotency key derived from what it represents (promise 4)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from revsync.domain.delivery import idempotency_key
from revsync.domain.identity import Customer, System
from revsync.domain.invoicing import Invoice
from revsync.domain.subscriptions import Subscription
from revsync.ports.delivery import Case, NewMessage
from revsync.ports.erp import PostingRecord
from revsync.schemas.invoices_v1 import invoice_out
from revsync.schemas.wire import plain_decimals

#: how a destination orders its messages: per customer (independent customers in parallel) or
#: all of them in one line (an ERP whose document numbers must follow document dates)
ORDERINGS = ("customer", "all")


class Announcer:
    """Routes announcements to the destinations that want them."""

    def __init__(
        self,
        routes: Mapping[str, Sequence[str]] | None = None,
        orders: Mapping[str, str] | None = None,
    ) -> None:
        """``routes``: event kind → destination names; ``orders``: destination → ordering
        (default "customer")."""
        self._routes = {kind: tuple(names) for kind, names in (routes or {}).items()}
        self._orders = dict(orders or {})

    def wants(self, *kinds: str) -> bool:
        """Whether any destination subscribed to one of ``kinds``."""
        return any(self._routes.get(kind) for kind in kinds)

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
                aggregate="all" if self._orders.get(name) == "all" else aggregate,
                kind=kind,
                object_type=object_type,
                object_id=object_id,
                key=key,
                payload=plain_decimals(payload),  # stored as it will be sent
                correlation_id=correlation_id,
            )
            for name in destinations
        ]

    def invoice_finalized(
        self,
        invoice: Invoice,
        customer: Customer,
        correlation_id: str | None,
        parts: Sequence[Invoice] = (),
    ) -> list[NewMessage]:
        """An invoice got its number (a credit note too: see ``document``). The payload is
        the invoice with the ``parts`` a consolidated invoice bills and a ``customer`` block
        (id, name, country, tax exemption, ERP ref)."""
        kind = "credit_note.issued" if invoice.credits_invoice else "invoice.finalized"
        return self.messages(
            kind,
            aggregate=f"customer:{invoice.customer_id}",
            object_type="credit_note" if invoice.credits_invoice else "invoice",
            object_id=invoice.id,
            key_parts=(invoice.id, invoice.number or ""),
            payload={
                **invoice_out(invoice),
                "parts": [
                    {
                        "id": part.id,
                        "subscription_id": part.subscription_id,
                        "kind": part.kind.value,
                        "period": {
                            "start": part.period.start.isoformat(),
                            "end": part.period.end.isoformat(),
                        },
                    }
                    for part in parts
                ],
                "customer": customer_block(customer),
            },
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

    def signals_updated(
        self, batch: Sequence[Mapping[str, Any]], correlation_id: str | None
    ) -> list[NewMessage]:
        """Changed signals of up to 200 customers (the CRM writes them in one request)."""
        digest = hashlib.sha256(
            json.dumps(plain_decimals(list(batch)), sort_keys=True).encode()
        ).hexdigest()
        return self.messages(
            "signals.updated",
            aggregate="signals",
            object_type="signals",
            object_id=digest[:32],
            key_parts=(digest,),
            payload={"accounts": list(batch)},
            correlation_id=correlation_id,
        )

    def invoice_posted(
        self, invoice: Invoice, posting: PostingRecord, correlation_id: str | None
    ) -> list[NewMessage]:
        """The ERP posted an invoice (its number and date there)."""
        return self.messages(
            "invoice.posted",
            aggregate=f"customer:{invoice.customer_id}",
            object_type="credit_note" if invoice.credits_invoice else "invoice",
            object_id=invoice.id,
            key_parts=(invoice.id, posting.remote_id),
            payload={
                "invoice_id": invoice.id,
                "customer_id": invoice.customer_id,
                "number": invoice.number,
                "erp_number": posting.number,
                "erp_invoice_id": posting.remote_id,
                "erp_invoice_date": posting.invoice_date.isoformat(),
                "rolled_forward_from": posting.rolled_forward_from.isoformat()
                if posting.rolled_forward_from
                else None,
                "total": invoice.totals.total,
                "currency": invoice.currency,
            },
            correlation_id=correlation_id,
        )

    def subscription_amended(
        self,
        subscription: Subscription,
        before: Mapping[str, Any],
        after: Mapping[str, Any],
        correlation_id: str | None = None,
    ) -> list[NewMessage]:
        """A new version of a subscription's terms (``before`` and ``after`` as
        ``terms_snapshot`` writes them)."""
        return self.messages(
            "subscription.amended",
            aggregate=f"customer:{subscription.customer_id}",
            object_type="subscription",
            object_id=subscription.id,
            key_parts=(subscription.id, str(after["version"])),
            payload={
                "subscription_id": subscription.id,
                "customer_id": subscription.customer_id,
                "change": after["change"],
                "effective": after["effective"],
                "before": dict(before),
                "after": dict(after),
            },
            correlation_id=correlation_id,
        )

    def customer_activated(
        self, customer: Customer, subscription: Subscription, correlation_id: str | None = None
    ) -> list[NewMessage]:
        """A customer's first subscription was stored (keyed by the customer: the outbox keeps
        the first message of a key, so a later subscription announces nothing)."""
        terms = subscription.current
        return self.messages(
            "customer.activated",
            aggregate=f"customer:{customer.id}",
            object_type="customer",
            object_id=customer.id,
            key_parts=(customer.id,),
            payload={
                "customer_id": customer.id,
                "name": customer.name,
                "subscription_id": subscription.id,
                "plan": f"{terms.plan_code}@{terms.plan_version}",
                "seats": terms.seats,
                "start": subscription.start.isoformat(),
            },
            correlation_id=correlation_id,
        )

    def case_opened(self, case: Case) -> list[NewMessage]:
        """An exception case was opened (or a closed one opened again)."""
        return self._case("case.opened", case, case.updated_at)

    def case_closed(self, case: Case) -> list[NewMessage]:
        """An exception case was closed: resolved, or ignored by an operator."""
        return self._case("case.resolved", case, case.closed_at or case.updated_at)

    def _case(self, kind: str, case: Case, at: datetime) -> list[NewMessage]:
        if case.object_type == "case":
            # the case of an undeliverable case announcement: announcing it would make another
            # message that a destination refusing them refuses again, without end
            return []
        return self.messages(
            kind,
            aggregate=f"case:{case.id}",
            object_type="case",
            object_id=case.id,
            key_parts=(case.id, at.isoformat()),
            payload={
                "case_id": case.id,
                "kind": case.kind.value,
                "status": case.status.value,
                "object_type": case.object_type,
                "object_id": case.object_id,
                "destination": case.destination,
                "error": case.last_error,
                "opened_at": case.opened_at.isoformat(),
                "closed_at": case.closed_at.isoformat() if case.closed_at else None,
                "closed_by": case.closed_by,
                "reason": case.reason,
            },
            correlation_id=case.correlation_id,
        )

    def deal_taken(self, customer_id: str, payload: Mapping[str, Any]) -> list[NewMessage]:
        """A won opportunity became a subscription or an add-on to one (once per
        opportunity): the ERP places its sale order, the CRM hears the subscription."""
        opportunity = str(payload["opportunity_id"])
        return self.messages(
            "deal.taken",
            aggregate=f"customer:{customer_id}",
            object_type="opportunity",
            object_id=opportunity,
            key_parts=(opportunity,),
            payload=payload,
            correlation_id=None,
        )

    def deal_refused(self, customer_id: str | None, payload: Mapping[str, Any]) -> list[NewMessage]:
        """A won opportunity could not be billed (once per opportunity and reason)."""
        opportunity = str(payload["opportunity_id"])
        digest = hashlib.sha256(str(payload["reason"]).encode()).hexdigest()[:16]
        return self.messages(
            "deal.refused",
            aggregate=f"customer:{customer_id}" if customer_id else f"opportunity:{opportunity}",
            object_type="opportunity",
            object_id=opportunity,
            key_parts=(opportunity, digest),
            payload=payload,
            correlation_id=None,
        )

    def keyed(
        self,
        kind: str,
        customer_id: str,
        key: str,
        payload: Mapping[str, Any],
        correlation_id: str | None = None,
    ) -> list[NewMessage]:
        """A record revsync creates once under its own key (a task, an opportunity)."""
        return self.messages(
            kind,
            aggregate=f"customer:{customer_id}",
            object_type=kind.split(".", 1)[0],
            object_id=key,
            key_parts=(key,),
            payload={"key": key, "customer_id": customer_id, **payload},
            correlation_id=correlation_id,
        )


def customer_block(customer: Customer) -> dict[str, Any]:
    """Who an announced document is for."""
    erp = customer.refs_in(System.ERP)
    return {
        "id": customer.id,
        "name": customer.name,
        "country": customer.country,
        "tax_exempt": customer.tax_exempt,
        "erp_ref": erp[0] if erp else None,
    }


class PaymentNews:
    """What a payment sync learned about one invoice, to announce."""

    def __init__(self, announcer: Announcer) -> None:
        self._announcer = announcer

    def paid(
        self, invoice: Invoice, erp_number: str, correlation_id: str | None
    ) -> list[NewMessage]:
        """The ERP reports the invoice paid."""
        return self._announcer.messages(
            "invoice.paid",
            aggregate=f"customer:{invoice.customer_id}",
            object_type="invoice",
            object_id=invoice.id,
            key_parts=(invoice.id,),
            payload={
                "invoice_id": invoice.id,
                "customer_id": invoice.customer_id,
                "number": invoice.number,
                "erp_number": erp_number,
                "total": invoice.totals.total,
                "currency": invoice.currency,
            },
            correlation_id=correlation_id,
        )

    def overdue(
        self,
        invoice: Invoice,
        erp_number: str,
        amount_to_pay: Decimal,
        due_date: date | None,
        dunning_level: str | None,
        correlation_id: str | None,
    ) -> list[NewMessage]:
        """The ERP reports the invoice overdue (once, and again for each new dunning level)."""
        return self._announcer.messages(
            "invoice.overdue",
            aggregate=f"customer:{invoice.customer_id}",
            object_type="invoice",
            object_id=invoice.id,
            key_parts=(invoice.id, dunning_level or "overdue"),
            payload={
                "invoice_id": invoice.id,
                "customer_id": invoice.customer_id,
                "number": invoice.number,
                "erp_number": erp_number,
                "amount_to_pay": amount_to_pay,
                "currency": invoice.currency,
                "due_date": due_date.isoformat() if due_date else None,
                "dunning_level": dunning_level,
            },
            correlation_id=correlation_id,
        )

"""The ERP as an outbox destination: an announced invoice or credit note becomes an ERP
document (lines mapped by the posting rules, taxes by country and code, annual fees deferred),
is posted through the ERP port, and the posting comes back as a receipt for revsync to record.
A taken deal (``deal.taken``) becomes a sale order placed in the ERP, and the invoice lines that
bill what a deal sold are linked to its sale lines (:func:`~revsync.domain.deals.sale_line_for`).

Refusals are fatal (an exception case); an ERP that is down is unavailable (one that answers
with a failure of its own, retriable), and ambiguous when the request may have arrived.

Messages go to the ERP in batches (:meth:`ErpDestination.send_many`), delivered in their order:
the documents between two deals posted by :meth:`~revsync.ports.erp.Erp.post_many`, each deal's
sale placed by :meth:`~revsync.ports.erp.Erp.place_sale` in its place. Both look every key up
themselves: a message delivered earlier comes back as delivered (``found_by_key``), a draft an
interrupted attempt left is finished. The relay needs no ``find_by_key`` before a batch.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from revsync.adapters.connectors.erp.provision import tax_name
from revsync.domain.deals import SaleLink, sale_line_for
from revsync.domain.delivery import Attempt, ErrorClass, OutboundMessage
from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import LineKind
from revsync.domain.periods import Period
from revsync.domain.posting import PostingRule, charge_key, deferred, rule_for
from revsync.ports.erp import (
    Erp,
    ErpDocument,
    ErpLine,
    ErpParty,
    ErpPosting,
    ErpRefused,
    ErpSale,
    ErpSaleLine,
    ErpSaleOrder,
    ErpUnavailable,
    SaleLinks,
)

#: what the ERP posts; other announcements are not its business
POSTED_KINDS = ("invoice.finalized", "credit_note.issued")
#: a won deal taken by revsync: the ERP places its sale order
SALE_KIND = "deal.taken"
#: everything the ERP destination takes
ERP_KINDS = (*POSTED_KINDS, SALE_KIND)
#: the invoices whose lines may invoice a deal's sale lines
_LINKED_KIND = "invoice.finalized"
#: what a message that cannot be mapped raises while it is
_UNMAPPABLE = (InvalidField, KeyError, ValueError, TypeError, InvalidOperation)
#: the ERP keeps unit prices to this many decimals
_PRICE_DIGITS = 4


def party_code(customer: Mapping[str, Any]) -> str:
    """The customer's ERP party: its ERP reference, else ``RS-<customer id>``."""
    return str(customer.get("erp_ref") or f"RS-{customer['id']}")


def erp_document(
    payload: Mapping[str, Any],
    key: str,
    rules: Sequence[PostingRule],
    *,
    approved: bool = False,
    links: Mapping[str, Sequence[SaleLink]] | None = None,
) -> ErpDocument:
    """An announced invoice (its wire form) as an ERP document; ``links`` are the sale lines
    placed for deals, by subscription, for the lines that invoice one: a line invoices its
    invoice's subscription's (on a consolidated invoice, its part's)."""
    customer = payload["customer"]
    currency = str(payload["currency"])
    rates = {t["tax_code"]: Decimal(t["rate"]) for t in payload.get("taxes", ())}
    country = customer.get("country")
    owners = {part["id"]: part.get("subscription_id") for part in payload.get("parts") or ()}
    own = payload.get("subscription_id")
    lines = tuple(
        _line(
            line,
            currency,
            country,
            rates,
            rules,
            (links or {}).get(str(owners.get(_part_of(line), own) or ""), ()),
        )
        for line in payload["lines"]
    )
    totals = payload["totals"]
    return ErpDocument(
        key=key,
        number=str(payload["number"]),
        party=ErpParty(party_code(customer), str(customer["name"]), country),
        currency=currency,
        invoice_date=date.fromisoformat(payload["issue_date"]),
        lines=lines,
        untaxed=Decimal(totals["subtotal"]) + Decimal(totals["discount"]),
        tax=Decimal(totals["tax"]),
        total=Decimal(totals["total"]),
        approved=approved,
    )


def _part_of(line: Mapping[str, Any]) -> str:
    """The part a consolidated invoice's line comes from (its key's first segment)."""
    return str(line.get("key", "")).partition(":")[0]


def _line(
    line: Mapping[str, Any],
    currency: str,
    country: str | None,
    rates: Mapping[str, Decimal],
    rules: Sequence[PostingRule],
    links: Sequence[SaleLink],
) -> ErpLine:
    kind = LineKind(line["kind"])
    charge = str(line.get("charge") or "")
    rule = rule_for(rules, charge, kind, currency)
    amount = Decimal(line["amount"])
    quantity = Decimal(line["quantity"])
    unit = Decimal(line["unit_amount"])
    # the ERP recomputes quantity × price: send them only when that gives the amount exactly
    exponent = unit.as_tuple().exponent
    exact = isinstance(exponent, int) and -exponent <= _PRICE_DIGITS and quantity * unit == amount
    if not exact:
        quantity, unit = Decimal(1), amount
    code = line["tax_code"]
    taxes = (tax_name(country, code, rates[code]),) if country and code in rates else ()
    service = Period(
        date.fromisoformat(line["service"]["start"]), date.fromisoformat(line["service"]["end"])
    )
    defer = kind is LineKind.RECURRING and deferred(service)
    sold = (
        sale_line_for(charge_key(charge), kind, service, Decimal(line["amount"]), links)
        if charge and links
        else None
    )
    return ErpLine(
        description=str(line["description"]),
        product=rule.product,
        account=rule.account,
        quantity=quantity,
        unit_price=unit,
        taxes=taxes,
        defer_from=service.start if defer else None,
        defer_to=date.fromordinal(service.end.toordinal() - 1) if defer else None,
        sale_line=sold,
    )


def erp_sale_order(
    payload: Mapping[str, Any], key: str, rules: Sequence[PostingRule]
) -> ErpSaleOrder:
    """A taken deal (its wire form) as a sale order: each line the product its recurring
    invoice lines post with, at the deal's net unit price."""
    customer = payload["customer"]
    currency = str(payload["currency"])
    lines = tuple(
        ErpSaleLine(
            key=str(line["key"]),
            description=str(line["description"]),
            product=rule_for(rules, str(line["key"]), LineKind.RECURRING, currency).product,
            quantity=Decimal(line["quantity"]),
            unit_price=Decimal(line["net_unit_price"]),
        )
        for line in payload["lines"]
    )
    return ErpSaleOrder(
        key=key,
        reference=str(payload["opportunity_id"]),
        party=ErpParty(party_code(customer), str(customer["name"]), customer.get("country")),
        currency=currency,
        sale_date=date.fromisoformat(payload["closed_on"]),
        description=f"{payload['name']} ({payload['subscription_id']})",
        lines=lines,
    )


def receipt(posting: ErpPosting) -> dict[str, str]:
    """What revsync records of a posting."""
    found = {
        "erp_invoice_id": posting.remote_id,
        "erp_number": posting.number,
        "erp_party": posting.party,
        "erp_invoice_date": posting.invoice_date.isoformat(),
    }
    if posting.rolled_forward_from is not None:
        found["rolled_forward_from"] = posting.rolled_forward_from.isoformat()
    return found


def sale_receipt(sale: ErpSale) -> dict[str, str]:
    """What revsync records of a placed sale: its id, number, and its line ids by line key."""
    return {
        "erp_sale_id": sale.remote_id,
        "erp_sale_number": sale.number,
        "erp_sale_lines": json.dumps(dict(sale.lines)),
    }


class ErpDestination:
    """:class:`~revsync.ports.delivery.Destination` that posts to an ERP, and places the sale
    orders of taken deals; with ``sale_links``, invoices are linked to those sales."""

    def __init__(
        self, erp: Erp, rules: Sequence[PostingRule], sale_links: SaleLinks | None = None
    ) -> None:
        self._erp = erp
        self._rules = tuple(rules)
        self._sale_links = sale_links

    async def send(self, message: OutboundMessage) -> Attempt:
        [attempt] = await self.send_many([message])
        return attempt

    async def send_many(self, messages: Sequence[OutboundMessage]) -> list[Attempt]:
        """Deliver ``messages`` in their order, looking every key up first (no ``find_by_key``
        is needed before a batch): the documents between two deals posted in one call, each
        deal's sale placed in its place, so that an invoice after it in the batch is linked to
        it. Returns one attempt per message for a prefix of ``messages``: a kind the ERP does
        not take is skippable and the batch goes on past it; a message that cannot be mapped,
        or that the ERP refuses, is fatal and ends the list (the messages after it are not
        sent). When the ERP does not answer, every message of the call it did not answer gets
        an unavailable attempt (retriable when the ERP answered with a failure of its own),
        ambiguous when the ERP may have received it, and the list ends with that call (before
        a message that cannot be mapped, which was not sent)."""
        links = await self._links(messages)
        attempts: list[Attempt] = []
        run: list[Attempt | ErpDocument] = []  # skips and documents since the last deal
        for message in messages:
            if message.kind == SALE_KIND:
                if not await self._post(run, attempts):
                    return attempts
                run = []
                attempt = await self._place(message, links)
                attempts.append(attempt)
                if not attempt.delivered:
                    return attempts
                continue
            if message.kind not in POSTED_KINDS:
                run.append(
                    Attempt.failed(ErrorClass.SKIPPABLE, f"the ERP does not take {message.kind}")
                )
                continue
            try:
                run.append(
                    erp_document(
                        message.payload,
                        message.key,
                        self._rules,
                        approved=message.approved_by is not None,
                        links=_links_of(message, links),
                    )
                )
            except _UNMAPPABLE as error:
                run.append(Attempt.failed(ErrorClass.FATAL, f"cannot map to the ERP: {error}"))
                break
        await self._post(run, attempts)
        return attempts

    async def _links(self, messages: Sequence[OutboundMessage]) -> dict[str, list[SaleLink]]:
        """The sale lines placed for the deals of the batch's invoices' subscriptions, read
        once (from revsync's database, off the event loop)."""
        if self._sale_links is None:
            return {}
        subscriptions = {
            str(subscription)
            for m in messages
            if m.kind == _LINKED_KIND
            for subscription in (
                m.payload.get("subscription_id"),
                *(part.get("subscription_id") for part in m.payload.get("parts") or ()),
            )
            if subscription
        }
        if not subscriptions:
            return {}
        found = await asyncio.to_thread(self._sale_links.of, subscriptions)
        return {subscription: list(links) for subscription, links in found.items()}

    async def _post(self, run: list[Attempt | ErpDocument], attempts: list[Attempt]) -> bool:
        """Post the documents of ``run`` in one call, adding an attempt per step to
        ``attempts``; False when the batch ends here (a refusal, an unmappable message, an ERP
        that does not answer)."""
        documents = [p for p in run if isinstance(p, ErpDocument)]
        try:
            results = await self._erp.post_many(documents) if documents else []
        except ErpUnavailable as error:
            down = Attempt.failed(_down(error), str(error), ambiguous=error.sent)
            attempts.extend(
                down if isinstance(p, ErpDocument) else p
                for p in run
                if isinstance(p, ErpDocument) or p.error_class is ErrorClass.SKIPPABLE
            )
            return False
        answers = iter(results)
        for step in run:
            if isinstance(step, Attempt):
                attempts.append(step)
                if step.error_class is ErrorClass.FATAL:
                    return False
                continue
            result = next(answers, None)
            if result is None:  # the ERP answered for fewer (it should not): not attempted
                return False
            if isinstance(result, ErpRefused):
                attempts.append(Attempt.failed(ErrorClass.FATAL, str(result)))
                return False
            attempts.append(
                Attempt.ok(result.remote_id, found_by_key=result.found, receipt=receipt(result))
            )
        return True

    async def _place(self, message: OutboundMessage, links: dict[str, list[SaleLink]]) -> Attempt:
        """Place a taken deal's sale order; its lines then link the invoices of its
        subscription later in the batch."""
        try:
            order = erp_sale_order(message.payload, message.key, self._rules)
            start = date.fromisoformat(message.payload["start"])  # the deal's first day
        except _UNMAPPABLE as error:
            return Attempt.failed(ErrorClass.FATAL, f"cannot map to the ERP: {error}")
        try:
            sale = await self._erp.place_sale(order)
        except ErpUnavailable as error:
            return Attempt.failed(_down(error), str(error), ambiguous=error.sent)
        except ErpRefused as error:
            return Attempt.failed(ErrorClass.FATAL, str(error))
        subscription = str(message.payload["subscription_id"])
        links.setdefault(subscription, []).extend(SaleLink(k, start, i) for k, i in sale.lines)
        return Attempt.ok(sale.remote_id, found_by_key=sale.found, receipt=sale_receipt(sale))

    async def find_by_key(self, key: str) -> Attempt | None:
        """The invoice or credit note posted under ``key``, else the sale placed under it."""
        try:
            posting = await self._erp.find(key)
            sale = await self._erp.find_sale(key) if posting is None else None
        except ErpUnavailable as error:
            return Attempt.failed(_down(error), f"lookup failed: {error}")
        except ErpRefused as error:
            return Attempt.failed(ErrorClass.RETRIABLE, f"lookup failed: {error}")
        if posting is not None:
            return Attempt.ok(posting.remote_id, found_by_key=True, receipt=receipt(posting))
        if sale is not None:
            return Attempt.ok(sale.remote_id, found_by_key=True, receipt=sale_receipt(sale))
        return None

    async def aclose(self) -> None:
        await self._erp.aclose()


def _links_of(
    message: OutboundMessage, links: Mapping[str, list[SaleLink]]
) -> Mapping[str, list[SaleLink]]:
    """The sale lines an invoice's lines may invoice, by subscription (a credit note's are
    none: it credits, it does not invoice a sale)."""
    return links if message.kind == _LINKED_KIND else {}


def _down(error: ErpUnavailable) -> ErrorClass:
    """Unavailable when the ERP does not answer (an outage, waited out); retriable when it
    answered with a failure of its own (a server error on this request)."""
    return ErrorClass.UNAVAILABLE if error.outage else ErrorClass.RETRIABLE

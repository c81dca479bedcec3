"""The ERP as an outbox destination: an announced invoice or credit note becomes an ERP
document (lines mapped by the posting rules, taxes by country and code, annual fees deferred),
is posted through the ERP port, and the posting comes back as a receipt for revsync to record.

Refusals are fatal (an exception case); an ERP that is down is unavailable (one that answers
with a failure of its own, retriable), and ambiguous when the request may have arrived.

Messages go to the ERP in batches (:meth:`ErpDestination.send_many`), posted in their order by
:meth:`~revsync.ports.erp.Erp.post_many`, which looks every key up itself: a message delivered
earlier comes back as delivered (``found_by_key``), a draft an interrupted attempt left is
finished. The relay needs no ``find_by_key`` before a batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from revsync.adapters.connectors.erp.provision import tax_name
from revsync.domain.delivery import Attempt, ErrorClass, OutboundMessage
from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import LineKind
from revsync.domain.periods import Period
from revsync.domain.posting import PostingRule, deferred, rule_for
from revsync.ports.erp import (
    Erp,
    ErpDocument,
    ErpLine,
    ErpParty,
    ErpPosting,
    ErpRefused,
    ErpUnavailable,
)

#: what the ERP posts; other announcements are not its business
POSTED_KINDS = ("invoice.finalized", "credit_note.issued")
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
) -> ErpDocument:
    """An announced invoice (its wire form) as an ERP document."""
    customer = payload["customer"]
    currency = str(payload["currency"])
    rates = {t["tax_code"]: Decimal(t["rate"]) for t in payload.get("taxes", ())}
    country = customer.get("country")
    lines = tuple(_line(line, currency, country, rates, rules) for line in payload["lines"])
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


def _line(
    line: Mapping[str, Any],
    currency: str,
    country: str | None,
    rates: Mapping[str, Decimal],
    rules: Sequence[PostingRule],
) -> ErpLine:
    kind = LineKind(line["kind"])
    rule = rule_for(rules, str(line.get("charge") or ""), kind, currency)
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
    return ErpLine(
        description=str(line["description"]),
        product=rule.product,
        account=rule.account,
        quantity=quantity,
        unit_price=unit,
        taxes=taxes,
        defer_from=service.start if defer else None,
        defer_to=date.fromordinal(service.end.toordinal() - 1) if defer else None,
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


class ErpDestination:
    """:class:`~revsync.ports.delivery.Destination` that posts to an ERP."""

    def __init__(self, erp: Erp, rules: Sequence[PostingRule]) -> None:
        self._erp = erp
        self._rules = tuple(rules)

    async def send(self, message: OutboundMessage) -> Attempt:
        [attempt] = await self.send_many([message])
        return attempt

    async def send_many(self, messages: Sequence[OutboundMessage]) -> list[Attempt]:
        """Post ``messages`` in their order, looking every key up first (no ``find_by_key``
        is needed before a batch). Returns one attempt per message for a prefix of
        ``messages``: a kind the ERP does not post is skippable and the batch goes on past it;
        a message that cannot be mapped, or that the ERP refuses, is fatal and ends the list
        (the messages after it are not posted). When the ERP does not answer, every message
        sent to it gets an unavailable attempt (retriable when the ERP answered with a failure
        of its own), ambiguous when the ERP may have received it; the list then stops before
        a message that cannot be mapped, which was not sent."""
        planned: list[Attempt | ErpDocument] = []  # a skip or mapping failure, or a document
        for message in messages:
            if message.kind not in POSTED_KINDS:
                planned.append(
                    Attempt.failed(ErrorClass.SKIPPABLE, f"the ERP does not take {message.kind}")
                )
                continue
            try:
                planned.append(
                    erp_document(
                        message.payload,
                        message.key,
                        self._rules,
                        approved=message.approved_by is not None,
                    )
                )
            except (InvalidField, KeyError, ValueError) as error:
                planned.append(Attempt.failed(ErrorClass.FATAL, f"cannot map to the ERP: {error}"))
                break
        documents = [p for p in planned if isinstance(p, ErpDocument)]
        try:
            results = await self._erp.post_many(documents) if documents else []
        except ErpUnavailable as error:
            down = Attempt.failed(_down(error), str(error), ambiguous=error.sent)
            return [
                down if isinstance(p, ErpDocument) else p
                for p in planned
                if isinstance(p, ErpDocument) or p.error_class is ErrorClass.SKIPPABLE
            ]
        attempts: list[Attempt] = []
        answers = iter(results)
        for step in planned:
            if isinstance(step, Attempt):
                attempts.append(step)
                continue
            result = next(answers, None)
            if result is None:  # the ERP answered for fewer (it should not): not attempted
                break
            if isinstance(result, ErpRefused):
                attempts.append(Attempt.failed(ErrorClass.FATAL, str(result)))
                break
            attempts.append(
                Attempt.ok(result.remote_id, found_by_key=result.found, receipt=receipt(result))
            )
        return attempts

    async def find_by_key(self, key: str) -> Attempt | None:
        try:
            posting = await self._erp.find(key)
        except ErpUnavailable as error:
            return Attempt.failed(_down(error), f"lookup failed: {error}")
        except ErpRefused as error:
            return Attempt.failed(ErrorClass.RETRIABLE, f"lookup failed: {error}")
        if posting is None:
            return None
        return Attempt.ok(posting.remote_id, found_by_key=True, receipt=receipt(posting))

    async def aclose(self) -> None:
        await self._erp.aclose()


def _down(error: ErpUnavailable) -> ErrorClass:
    """Unavailable when the ERP does not answer (an outage, waited out); retriable when it
    answered with a failure of its own (a server error on this request)."""
    return ErrorClass.UNAVAILABLE if error.outage else ErrorClass.RETRIABLE

"""Sale orders in Tryton (module ``sale``): what a won deal sold, placed once, confirmed and
processed, for revsync's own invoices to be linked to.

- The order's idempotency key is kept in the sale's ``comment`` (exactly the key: searched with
  ``=``); its ``reference`` is revsync's reference (the CRM opportunity), which Tryton shows in
  the sale's name (``12 [006…]``) and searches with its number; ``description`` is the order's.
- Each line carries revsync's line key in its ``note`` (``growth:seats``), and its place in the
  order as its ``sequence``: a sale found again maps its lines back to their keys by note,
  whatever order Tryton reads them in. The note is not printed on the sale's report.
- Invoice method and shipment method are ``manual``: Tryton makes no invoice (revsync bills) and
  no shipment (service products) of its own. ``quote`` → ``confirm`` → ``process`` leaves the
  sale ``processing`` with ``invoice_state`` ``none``; each invoice revsync posts with a line's
  ``origin`` on a sale line is then one of the sale's ``invoices`` (``awaiting payment``), and
  the sale is ``done`` once every such invoice is paid.
- Placing looks the key up first: a sale processing or done is the answer (one confirmed, its
  processing still queued in Tryton, is processed), a draft or quotation an interrupted attempt
  left is finished, a cancelled one is refused. Products are checked before anything is
  created: an unknown or unsalable product code is refused by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from revsync.adapters.connectors.erp.rpc import TrytonRpc, TrytonUserWarning
from revsync.adapters.connectors.erp.tryton_posting import TrytonIds, TrytonParties
from revsync.ports.erp import ErpRefused, ErpSale, ErpSaleOrder

#: what a sale is read back with
SALE_FIELDS = ["number", "state"]
#: the states of a sale that is placed (confirmed, or further on)
PLACED = ("confirmed", "processing", "done")
#: Tryton's sale prices keep four decimals
_PRICE = Decimal("0.0001")
#: how many warnings one transition may raise before revsync gives up acknowledging them
_WARNINGS = 4


@dataclass
class SaleRun:
    """One ``place`` call as it goes: whether anything was written to the ERP yet (then an
    answer lost from here on leaves the outcome unknown)."""

    wrote: bool = False


class TrytonSales:
    """Places sale orders in a Tryton company set up by ``revsync erp provision`` (products
    salable), idempotent by key."""

    def __init__(self, rpc: TrytonRpc, ids: TrytonIds, parties: TrytonParties) -> None:
        self._rpc = rpc
        self._ids = ids
        self._parties = parties

    async def lookup(self, key: str) -> dict[str, Any] | None:
        """The sale carrying ``key`` (the first Tryton lists when, by hand, there are more),
        read with :data:`SALE_FIELDS`."""
        found = await self._rpc.model(
            "sale.sale",
            "search_read",
            [("comment", "=", key)],
            0,
            1,
            [("id", "ASC")],
            SALE_FIELDS,
        )
        return dict(found[0]) if found else None

    async def find(self, key: str) -> ErpSale | None:
        """The placed sale with this key (confirmed or further on), if any."""
        sale = await self.lookup(key)
        if sale is None or sale["state"] not in PLACED:
            return None
        return await self._sale(sale, found=True)

    async def place(self, order: ErpSaleOrder, run: SaleRun) -> ErpSale:
        """Place ``order`` once (see the module's docstring)."""
        sale = await self.lookup(order.key)
        if sale is not None and sale["state"] in ("processing", "done"):
            return await self._sale(sale, found=True)
        if sale is not None and sale["state"] == "cancelled":
            name = sale["number"] or f"(id {sale['id']})"
            raise ErpRefused(f"the ERP sale {name} for this order was cancelled")
        found = sale is not None
        if sale is None:
            values = await self._values(order)
            run.wrote = True
            sale = {"id": await self._create(values), "state": "draft"}
        sale_id = int(sale["id"])
        run.wrote = True
        if sale["state"] == "draft":
            await self._press("quote", sale_id)
        if sale["state"] in ("draft", "quotation"):
            await self._press("confirm", sale_id)
        # confirming queues the processing: a Tryton without a queue worker runs it at the end
        # of that call, one with a worker later; processing it again here changes nothing
        await self._press("process", sale_id)
        [read] = await self._rpc.model("sale.sale", "read", [sale_id], SALE_FIELDS)
        # confirmed before this call: placed then, its processing left to Tryton's queue
        return await self._sale(read, found=found and sale["state"] == "confirmed")

    async def create(self, order: ErpSaleOrder) -> int:
        """A draft for ``order``, as an attempt interrupted before quoting it leaves it (tests
        make drafts with it)."""
        return await self._create(await self._values(order))

    async def _create(self, values: dict[str, Any]) -> int:
        [created] = await self._rpc.model("sale.sale", "create", [values])
        return int(created)

    async def _values(self, order: ErpSaleOrder) -> dict[str, Any]:
        """A new draft's values; every product checked first (known, and salable)."""
        products = await self._products([line.product for line in order.lines])
        parties = await self._parties.resolve([order.party])
        party, address = parties[order.party.code]
        unit = await self._ids.of("unit", "Unit")
        lines = [
            {
                "type": "line",
                "sequence": n,
                "product": products[line.product],
                "description": line.description,
                "note": line.key,
                "quantity": line.quantity,  # exact on the wire (a Decimal)
                "unit": unit,
                "unit_price": line.unit_price.quantize(_PRICE, rounding=ROUND_HALF_UP),
            }
            for n, line in enumerate(order.lines, 1)
        ]
        return {
            "company": await self._ids.company(),
            "party": party,
            "invoice_address": address,
            "currency": await self._ids.of("currency", order.currency),
            "sale_date": order.sale_date,
            "reference": order.reference,
            "description": order.description,
            "comment": order.key,
            "invoice_method": "manual",
            "shipment_method": "manual",
            "lines": [("create", lines)],
        }

    async def _products(self, codes: Sequence[str]) -> dict[str, int]:
        """The product ids by code, read in one call; a refusal naming every code the ERP has
        no product for, or whose product it may not sell."""
        wanted = sorted(set(codes))
        found = await self._rpc.model(
            "product.product",
            "search_read",
            [("code", "in", wanted)],
            0,
            None,
            None,
            ["code", "salable"],
        )
        products: dict[str, dict[str, Any]] = {}
        for product in found:
            products.setdefault(str(product["code"]), product)
        unknown = [code for code in wanted if code not in products]
        if unknown:
            raise ErpRefused(
                f"the ERP has no product {_names(unknown)} (map the posting rules' products, "
                "then run 'revsync erp provision')"
            )
        unsalable = [code for code in wanted if not products[code]["salable"]]
        if unsalable:
            raise ErpRefused(
                f"the ERP may not sell product {_names(unsalable)} (run 'revsync erp provision': "
                "it makes revsync's products salable)"
            )
        return {code: int(products[code]["id"]) for code in wanted}

    async def _press(self, button: str, sale_id: int) -> None:
        """Press ``button`` for the sale (a warning is acknowledged and the call tried again)."""
        for _ in range(_WARNINGS):
            try:
                await self._rpc.model("sale.sale", button, [sale_id])
                return
            except TrytonUserWarning as warning:
                await self._rpc.model("res.user.warning", "skip", warning.key, False)
        raise ErpRefused(f"the ERP kept asking to confirm warnings for sale {sale_id}")

    async def _sale(self, sale: dict[str, Any], *, found: bool) -> ErpSale:
        """The sale as the port gives it, its lines' ids by the key in each line's note."""
        lines = await self._rpc.model(
            "sale.line",
            "search_read",
            [("sale", "=", int(sale["id"])), ("type", "=", "line")],
            0,
            None,
            [("sequence", "ASC"), ("id", "ASC")],
            ["note"],
        )
        return ErpSale(
            remote_id=str(sale["id"]),
            number=str(sale["number"] or ""),
            state=str(sale["state"]),
            lines=tuple((str(line["note"]), str(line["id"])) for line in lines if line["note"]),
            found=found,
        )


def _names(codes: Sequence[str]) -> str:
    return ", ".join(repr(code) for code in codes)

"""Deals in the CRM sandbox as a sales rep makes them: products with a standard price, an
opportunity with its product lines, then closed won (for the demo and the tests)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from revsync.sandbox.crm.ids import STANDARD_PRICEBOOK_ID
from revsync.sandbox.crm.sandbox import CrmSandbox


@dataclass(frozen=True, slots=True)
class Item:
    """One product line: ``quantity`` of the product ``code`` at ``price`` (its list price
    when None), less ``discount`` percent."""

    code: str
    quantity: int
    price: Decimal | None = None
    discount: Decimal | None = None
    service_date: date | None = None


def add_product(sandbox: CrmSandbox, code: str, name: str, price: Decimal) -> str:
    """A product with its price in the standard price book; the price book entry's id."""
    product = sandbox.create_record(
        "Product2", {"Name": name, "ProductCode": code, "IsActive": True}
    )
    return sandbox.create_record(
        "PricebookEntry",
        {
            "Pricebook2Id": STANDARD_PRICEBOOK_ID,
            "Product2Id": product,
            "UnitPrice": float(price),
            "IsActive": True,
        },
    )


def sell(
    sandbox: CrmSandbox,
    account_id: str,
    name: str,
    closed_on: date,
    items: Sequence[Item],
    entries: Mapping[str, str],
    *,
    won: bool = True,
    **fields: Any,
) -> str:
    """An opportunity with its product lines (``entries``: product code → price book entry),
    then closed won (or left in negotiation); its id."""
    opportunity = sandbox.create_record(
        "Opportunity",
        {
            "AccountId": account_id,
            "Name": name,
            "StageName": "Negotiation",
            "CloseDate": closed_on.isoformat(),
            "Pricebook2Id": STANDARD_PRICEBOOK_ID,
            **fields,
        },
    )
    for item in items:
        values: dict[str, Any] = {
            "OpportunityId": opportunity,
            "PricebookEntryId": entries[item.code],
            "Quantity": item.quantity,
        }
        if item.price is not None:
            values["UnitPrice"] = float(item.price)
        if item.discount is not None:
            values["Discount"] = float(item.discount)
        if item.service_date is not None:
            values["ServiceDate"] = item.service_date.isoformat()
        sandbox.create_record("OpportunityLineItem", values)
    if won:
        sandbox.update_record("Opportunity", opportunity, {"StageName": "Closed Won"})
    return opportunity

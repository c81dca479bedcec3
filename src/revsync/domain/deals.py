"""Quote-to-cash, as pure rules: what a won CRM opportunity sells, read through the product
map (each CRM product a recurring charge of a plan), and whether revsync can bill it.

A deal is *new business* (a new subscription on the plan its products belong to, the seats the
quantity of the per-seat product, one discount a coupon) or an *add-on* to a subscription (more
seats of its plan from a day, prorated by billing as any amendment). Anything revsync could not
bill exactly — a product it does not know, another currency, a price that is not the plan's, a
missing price, lines of two plans, discounts that differ — refuses the whole deal with the
reason: never a half-made subscription.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import LineKind
from revsync.domain.periods import Period
from revsync.domain.pricing import ChargeModel, Plan


class DealKind(StrEnum):
    NEW = "new"  # a new subscription
    ADD_ON = "add_on"  # more seats on a subscription in service


@dataclass(frozen=True, slots=True)
class ProductMap:
    """What a CRM product is in revsync: a recurring charge of a plan."""

    plan: str
    charge: str


@dataclass(frozen=True, slots=True)
class OpportunityLine:
    """A product line of an opportunity, as the CRM holds it."""

    line_id: str
    product_code: str | None
    product_name: str
    quantity: Decimal
    unit_price: Decimal | None  # the sales price
    discount: Decimal | None  # percent
    service_date: date | None


@dataclass(frozen=True, slots=True)
class Opportunity:
    """A won opportunity, as the CRM holds it."""

    opportunity_id: str
    account_id: str
    name: str
    close_date: date
    currency: str | None  # the opportunity's currency, where the CRM keeps several
    contract_id: str | None  # the contract an add-on is for
    type: str | None
    lines: tuple[OpportunityLine, ...]

    @property
    def start(self) -> date:
        """The first day of what it sells: its lines' earliest date, else its close date."""
        dates = [line.service_date for line in self.lines if line.service_date is not None]
        return min(dates) if dates else self.close_date


@dataclass(frozen=True, slots=True)
class SoldLine:
    """One thing a deal sold: a plan's recurring charge, at the plan's price less the deal's
    discount."""

    key: str  # "<plan code>:<charge key>"
    product_code: str
    description: str
    quantity: int
    unit_price: Decimal  # the plan's
    discount: Decimal | None  # percent

    @property
    def net_unit_price(self) -> Decimal:
        """The unit price less the discount (as the CRM computes a line's total)."""
        if not self.discount:
            return self.unit_price
        return self.unit_price * (100 - self.discount) / 100


@dataclass(frozen=True, slots=True)
class DealTerms:
    """What revsync makes of a won opportunity."""

    kind: DealKind
    plan_code: str
    plan_version: int
    seats: int  # new business: the subscription's seats; an add-on: the seats it adds
    start: date  # the subscription's start, or the add-on's effective day
    discount: Decimal | None  # one percent off every line (new business only)
    lines: tuple[SoldLine, ...]


def coupon_code(discount: Decimal) -> str:
    """The coupon a deal's discount becomes: ``crm-10pct``, ``crm-12.5pct``."""
    return f"crm-{percent_text(discount)}pct"


def percent_text(value: Decimal) -> str:
    """A percentage as people write it: ``10``, ``12.5`` (never ``1E+1``)."""
    return format(value.normalize(), "f")


def deal_terms(
    opportunity: Opportunity,
    *,
    kind: DealKind,
    products: Mapping[str, ProductMap],
    plan_of: Callable[[str], Plan | None],
    currency: str,
    current_plan: str | None = None,
) -> DealTerms:
    """The terms of a won opportunity for a customer invoiced in ``currency`` (an add-on's
    ``current_plan`` is the plan of the subscription it adds to). Raises :class:`InvalidField`
    naming the field and why the deal cannot be billed."""
    if opportunity.currency is not None and opportunity.currency != currency:
        raise InvalidField(
            "CurrencyIsoCode",
            f"the opportunity is in {opportunity.currency}; the customer is invoiced in {currency}",
        )
    if not opportunity.lines:
        raise InvalidField("OpportunityLineItem", "the opportunity sells no products")
    sold: list[SoldLine] = []
    plans: dict[str, Plan] = {}
    seats: int | None = None
    for line in opportunity.lines:
        mapped = products.get(line.product_code or "")
        if mapped is None:
            raise InvalidField(
                "Product2.ProductCode",
                f"unknown product {line.product_code or '(no code)'} ({line.product_name}): "
                "map it in quote_to_cash.products",
            )
        plan = plans.get(mapped.plan) or plan_of(mapped.plan)
        if plan is None:
            raise InvalidField(
                "quote_to_cash.products", f"{line.product_code}: no plan {mapped.plan!r}"
            )
        plans[plan.code] = plan
        if plan.currency != currency:
            raise InvalidField(
                "quote_to_cash.products",
                f"{line.product_code}: plan {plan.code!r} is priced in {plan.currency}; the "
                f"customer is invoiced in {currency}",
            )
        charge = next((c for c in plan.charges if c.key == mapped.charge), None)
        if charge is None or charge.model not in (ChargeModel.FLAT, ChargeModel.PER_SEAT):
            raise InvalidField(
                "quote_to_cash.products",
                f"{line.product_code}: plan {plan.code!r} has no recurring charge "
                f"{mapped.charge!r}",
            )
        assert charge.amount is not None  # a recurring charge has its amount
        if line.unit_price is None:
            raise InvalidField(
                "OpportunityLineItem.UnitPrice", f"{line.product_code}: the line has no price"
            )
        if line.unit_price != charge.amount:
            raise InvalidField(
                "OpportunityLineItem.UnitPrice",
                f"{line.product_code}: the price {line.unit_price} is not plan {plan.code!r}'s "
                f"{charge.amount} for {charge.key!r}: give the difference as the line's discount",
            )
        quantity = _whole(line.quantity, line.product_code or "")
        if charge.model is ChargeModel.FLAT and quantity != 1:
            raise InvalidField(
                "OpportunityLineItem.Quantity",
                f"{line.product_code}: {charge.key!r} is a flat fee, sold once (got {quantity})",
            )
        if charge.model is ChargeModel.PER_SEAT:
            if seats is not None:
                raise InvalidField(
                    "OpportunityLineItem", "the opportunity sells seats on more than one line"
                )
            seats = quantity
        sold.append(
            SoldLine(
                key=f"{plan.code}:{charge.key}",
                product_code=line.product_code or "",
                description=charge.description,
                quantity=quantity,
                unit_price=charge.amount,
                discount=line.discount or None,
            )
        )
    if len(plans) > 1:
        raise InvalidField(
            "OpportunityLineItem",
            f"the products belong to plans {', '.join(sorted(plans))}: a deal sells one plan",
        )
    [plan] = plans.values()
    discounts = {line.discount or Decimal(0) for line in sold}
    if len(discounts) > 1:
        raise InvalidField(
            "OpportunityLineItem.Discount",
            "the lines' discounts differ ("
            + ", ".join(f"{percent_text(d)}%" for d in sorted(discounts))
            + "): revsync applies one discount to a subscription",
        )
    discount = discounts.pop() or None
    if kind is DealKind.ADD_ON:
        if plan.code != current_plan:
            raise InvalidField(
                "OpportunityLineItem",
                f"an add-on adds seats of the subscription's plan {current_plan!r}; these "
                f"products are plan {plan.code!r}'s (change the plan on the contract)",
            )
        if seats is None or len(sold) > 1:
            raise InvalidField(
                "OpportunityLineItem",
                "an add-on sells seats only (the subscription pays its flat fees already)",
            )
        if discount is not None:
            raise InvalidField(
                "OpportunityLineItem.Discount",
                "an add-on cannot carry a discount: a coupon would discount the whole subscription",
            )
        if seats < 1:
            raise InvalidField("OpportunityLineItem.Quantity", "an add-on adds at least one seat")
    return DealTerms(
        kind=kind,
        plan_code=plan.code,
        plan_version=plan.version,
        seats=seats if seats is not None else 1,
        start=opportunity.start,
        discount=discount,
        lines=tuple(sold),
    )


def _whole(quantity: Decimal, product: str) -> int:
    if quantity != quantity.to_integral_value() or quantity < 0:
        raise InvalidField(
            "OpportunityLineItem.Quantity",
            f"{product}: a whole number of at least 0 (got {quantity})",
        )
    return int(quantity)


def status_text(status: str, plan: str, seats: int, start: str) -> str:
    """What a taken deal's opportunity says of its subscription:
    ``active — growth@1, 10 seats from 2026-12-01``."""
    return f"{status} — {plan}, {seats} seat{'' if seats == 1 else 's'} from {start}"


def refused_text(reason: str) -> str:
    """What a refused deal's opportunity says: ``refused — <reason>``."""
    return f"refused — {reason}"


# --- linking invoices to the sale order ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class SaleLink:
    """A line of a deal's sale order in the ERP that revsync's invoices link to."""

    key: str  # "<plan code>:<charge key>"
    start: date  # the deal's first day
    sale_line: str  # the ERP's sale line id


#: the invoice lines that bill what a deal sold
_SOLD_KINDS = frozenset({LineKind.RECURRING, LineKind.PRORATION})


def sale_line_for(
    key: str, kind: LineKind, service: Period, amount: Decimal, links: Sequence[SaleLink]
) -> str | None:
    """The sale line an invoice line of charge ``key`` (``"<plan>:<charge>"``) invoices: the
    recurring or proration line charging (``amount`` above 0) the service that begins the deal
    (its period holds the deal's first day: a subscription's first fee, an add-on's prorated
    seats), the deal starting on the service's first day preferred, else the latest one within
    it. None for any other (the unused time of the terms an add-on replaced is credited, not
    sold)."""
    if kind not in _SOLD_KINDS or amount <= 0:
        return None
    within = [
        link for link in links if link.key == key and service.start <= link.start < service.end
    ]
    if not within:
        return None
    exact = [link for link in within if link.start == service.start]
    return (exact or sorted(within, key=lambda link: link.start))[-1].sale_line

"""Quote-to-cash's rules: what a won opportunity sells (new business, an add-on), every reason a
deal is refused whole, and which sale line an invoice line invoices."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revsync.domain.deals import (
    DealKind,
    DealTerms,
    Opportunity,
    OpportunityLine,
    ProductMap,
    SaleLink,
    SoldLine,
    coupon_code,
    deal_terms,
    sale_line_for,
)
from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import LineKind
from revsync.domain.periods import Period
from revsync.domain.pricing import Plan, plan_from_mapping

GROWTH = plan_from_mapping(
    {
        "name": "Growth",
        "currency": "EUR",
        "interval": "month",
        "charges": [
            {"key": "platform", "model": "flat", "description": "Platform", "amount": "500.00"},
            {"key": "seats", "model": "per_seat", "description": "Seats", "amount": "49.00"},
            {
                "key": "calls",
                "model": "per_unit",
                "description": "Calls",
                "meter": "api_calls",
                "amount": "0.01",
            },
        ],
    },
    code="growth",
    version=2,
)
SCALE = plan_from_mapping(
    {
        "name": "Scale",
        "currency": "EUR",
        "interval": "month",
        "charges": [{"key": "seats", "model": "per_seat", "description": "Seats", "amount": "39"}],
    },
    code="scale",
    version=1,
)
USD = replace(SCALE, code="usd", currency="USD")
PLANS = {p.code: p for p in (GROWTH, SCALE, USD)}
PRODUCTS = {
    "GROWTH-PLATFORM": ProductMap("growth", "platform"),
    "GROWTH-SEAT": ProductMap("growth", "seats"),
    "GROWTH-CALLS": ProductMap("growth", "calls"),
    "SCALE-SEAT": ProductMap("scale", "seats"),
    "USD-SEAT": ProductMap("usd", "seats"),
    "GONE-SEAT": ProductMap("gone", "seats"),
}
CLOSED = date(2026, 11, 30)


def line(
    code: str | None,
    quantity: str = "1",
    price: str | None = "500.00",
    discount: str | None = None,
    service: date | None = None,
) -> OpportunityLine:
    return OpportunityLine(
        line_id=f"00k{code}",
        product_code=code,
        product_name=f"{code} product",
        quantity=Decimal(quantity),
        unit_price=None if price is None else Decimal(price),
        discount=None if discount is None else Decimal(discount),
        service_date=service,
    )


def won(*lines: OpportunityLine, currency: str | None = None) -> Opportunity:
    return Opportunity(
        opportunity_id="006A",
        account_id="001A",
        name="Acme — Growth",
        close_date=CLOSED,
        currency=currency,
        contract_id=None,
        type="New Business",
        lines=lines,
    )


def terms(
    opportunity: Opportunity, kind: DealKind = DealKind.NEW, current: str | None = None
) -> DealTerms:
    return deal_terms(
        opportunity,
        kind=kind,
        products=PRODUCTS,
        plan_of=PLANS.get,
        currency="EUR",
        current_plan=current,
    )


def refusal(opportunity: Opportunity, **options: object) -> str:
    with pytest.raises(InvalidField) as caught:
        terms(opportunity, **options)  # type: ignore[arg-type]
    return str(caught.value)


def test_new_business_is_the_plan_its_products_belong_to_with_the_seats_and_one_discount() -> None:
    first = date(2026, 12, 1)
    found = terms(
        won(
            line("GROWTH-PLATFORM", discount="10", service=date(2026, 12, 15)),
            line("GROWTH-SEAT", "12", "49.00", discount="10", service=first),
        )
    )
    assert found == DealTerms(
        kind=DealKind.NEW,
        plan_code="growth",
        plan_version=2,
        seats=12,
        start=first,  # the earliest line's date
        discount=Decimal("10"),
        lines=(
            SoldLine(
                "growth:platform",
                "GROWTH-PLATFORM",
                "Platform",
                1,
                Decimal("500.00"),
                Decimal("10"),
            ),
            SoldLine("growth:seats", "GROWTH-SEAT", "Seats", 12, Decimal("49.00"), Decimal("10")),
        ),
    )
    assert [sold.net_unit_price for sold in found.lines] == [Decimal("450"), Decimal("44.1")]
    assert coupon_code(Decimal("10")) == "crm-10pct"
    assert coupon_code(Decimal("12.50")) == "crm-12.5pct"


def test_without_dates_it_starts_on_the_close_date_and_a_plan_without_seats_sold_has_one() -> None:
    found = terms(won(line("GROWTH-PLATFORM")))
    assert (found.start, found.seats, found.discount) == (CLOSED, 1, None)


def test_an_add_on_adds_seats_of_the_subscriptions_plan_from_its_date() -> None:
    day = date(2027, 1, 16)
    found = terms(
        won(line("GROWTH-SEAT", "5", "49", service=day)), DealKind.ADD_ON, current="growth"
    )
    assert (found.kind, found.seats, found.start, found.discount) == (
        DealKind.ADD_ON,
        5,
        day,
        None,
    )


REFUSALS = [
    (
        won(line("GROWTH-SEAT", "3", "49"), currency="USD"),
        {},
        "CurrencyIsoCode: the opportunity is in USD; the customer is invoiced in EUR",
    ),
    (won(), {}, "OpportunityLineItem: the opportunity sells no products"),
    (
        won(line("WIDGET")),
        {},
        "Product2.ProductCode: unknown product WIDGET (WIDGET product): map it in "
        "quote_to_cash.products",
    ),
    (
        won(line(None)),
        {},
        "Product2.ProductCode: unknown product (no code) (None product): map it in "
        "quote_to_cash.products",
    ),
    (won(line("GONE-SEAT")), {}, "quote_to_cash.products: GONE-SEAT: no plan 'gone'"),
    (
        won(line("USD-SEAT", price="39")),
        {},
        "quote_to_cash.products: USD-SEAT: plan 'usd' is priced in USD; the customer is "
        "invoiced in EUR",
    ),
    (
        won(line("GROWTH-CALLS", price="0.01")),
        {},
        "quote_to_cash.products: GROWTH-CALLS: plan 'growth' has no recurring charge 'calls'",
    ),
    (
        won(line("GROWTH-PLATFORM", price=None)),
        {},
        "OpportunityLineItem.UnitPrice: GROWTH-PLATFORM: the line has no price",
    ),
    (
        won(line("GROWTH-SEAT", "3", "45.00")),
        {},
        "OpportunityLineItem.UnitPrice: GROWTH-SEAT: the price 45.00 is not plan 'growth''s "
        "49.00 for 'seats': give the difference as the line's discount",
    ),
    (
        won(line("GROWTH-SEAT", "2.5", "49")),
        {},
        "OpportunityLineItem.Quantity: GROWTH-SEAT: a whole number of at least 0 (got 2.5)",
    ),
    (
        won(line("GROWTH-PLATFORM", "2")),
        {},
        "OpportunityLineItem.Quantity: GROWTH-PLATFORM: 'platform' is a flat fee, sold once "
        "(got 2)",
    ),
    (
        won(line("GROWTH-SEAT", "2", "49"), line("GROWTH-SEAT", "3", "49")),
        {},
        "OpportunityLineItem: the opportunity sells seats on more than one line",
    ),
    (
        won(line("GROWTH-PLATFORM"), line("SCALE-SEAT", "2", "39")),
        {},
        "OpportunityLineItem: the products belong to plans growth, scale: a deal sells one plan",
    ),
    (
        won(line("GROWTH-PLATFORM", discount="10"), line("GROWTH-SEAT", "2", "49", "5")),
        {},
        "OpportunityLineItem.Discount: the lines' discounts differ (5%, 10%): revsync applies "
        "one discount to a subscription",
    ),
    (
        won(line("GROWTH-PLATFORM"), line("GROWTH-SEAT", "2", "49", "5")),
        {},
        "OpportunityLineItem.Discount: the lines' discounts differ (0%, 5%): revsync applies "
        "one discount to a subscription",
    ),
    (
        won(line("SCALE-SEAT", "2", "39")),
        {"kind": DealKind.ADD_ON, "current": "growth"},
        "OpportunityLineItem: an add-on adds seats of the subscription's plan 'growth'; these "
        "products are plan 'scale''s (change the plan on the contract)",
    ),
    (
        won(line("GROWTH-PLATFORM")),
        {"kind": DealKind.ADD_ON, "current": "growth"},
        "OpportunityLineItem: an add-on sells seats only (the subscription pays its flat fees "
        "already)",
    ),
    (
        won(line("GROWTH-SEAT", "2", "49", "10")),
        {"kind": DealKind.ADD_ON, "current": "growth"},
        "OpportunityLineItem.Discount: an add-on cannot carry a discount: a coupon would "
        "discount the whole subscription",
    ),
    (
        won(line("GROWTH-SEAT", "0", "49")),
        {"kind": DealKind.ADD_ON, "current": "growth"},
        "OpportunityLineItem.Quantity: an add-on adds at least one seat",
    ),
]


@pytest.mark.parametrize(("opportunity", "options", "reason"), REFUSALS)
def test_a_deal_revsync_cannot_bill_exactly_is_refused_whole_with_its_reason(
    opportunity: Opportunity, options: dict[str, object], reason: str
) -> None:
    assert refusal(opportunity, **options) == reason


# --- which sale line an invoice line invoices --------------------------------------------

MONTH = Period(date(2026, 12, 1), date(2027, 1, 1))
NEW = SaleLink("growth:seats", date(2026, 12, 1), "11")
ADD_ON = SaleLink("growth:seats", date(2026, 12, 16), "21")
PLATFORM = SaleLink("growth:platform", date(2026, 12, 1), "12")


def test_the_first_fee_links_to_the_new_business_and_the_prorated_seats_to_the_add_on() -> None:
    links = [NEW, PLATFORM, ADD_ON]
    fee = Decimal("490.00")
    assert sale_line_for("growth:seats", LineKind.RECURRING, MONTH, fee, links) == "11"
    assert sale_line_for("growth:platform", LineKind.RECURRING, MONTH, fee, links) == "12"
    proration = Period(date(2026, 12, 16), MONTH.end)
    assert sale_line_for("growth:seats", LineKind.PRORATION, proration, fee, links) == "21"
    # the unused time of the seats the add-on replaced is credited, not sold
    unused = Decimal("-252.90")
    assert sale_line_for("growth:seats", LineKind.PRORATION, proration, unused, links) is None
    later = Period(date(2027, 1, 1), date(2027, 2, 1))
    assert sale_line_for("growth:seats", LineKind.RECURRING, later, fee, links) is None
    assert sale_line_for("growth:calls", LineKind.USAGE, MONTH, fee, links) is None
    assert sale_line_for("growth:seats", LineKind.ADJUSTMENT, MONTH, fee, links) is None


@given(
    starts=st.lists(st.integers(min_value=0, max_value=90), max_size=6),
    first=st.integers(min_value=0, max_value=90),
    days=st.integers(min_value=1, max_value=60),
    kind=st.sampled_from(list(LineKind)),
    amount=st.decimals(min_value=-1000, max_value=1000, places=2),
)
def test_a_line_links_only_to_a_sale_of_its_charge_begun_within_its_service(
    starts: list[int], first: int, days: int, kind: LineKind, amount: Decimal
) -> None:
    origin = date(2026, 1, 1)
    links = [
        SaleLink("p:seats" if n % 2 == 0 else "p:platform", origin + timedelta(d), str(n))
        for n, d in enumerate(starts)
    ]
    service = Period(origin + timedelta(first), origin + timedelta(first + days))
    found = sale_line_for("p:seats", kind, service, amount, links)
    candidates = [
        link
        for link in links
        if link.key == "p:seats" and service.start <= link.start < service.end
    ]
    if kind not in (LineKind.RECURRING, LineKind.PRORATION) or amount <= 0 or not candidates:
        assert found is None
        return
    [chosen] = [link for link in links if link.sale_line == found]
    assert chosen in candidates
    exact = [link for link in candidates if link.start == service.start]
    assert chosen.start == (service.start if exact else max(c.start for c in candidates))


def test_a_plan_unknown_to_the_catalog_is_refused_not_guessed() -> None:
    def nothing(code: str) -> Plan | None:
        return None

    with pytest.raises(InvalidField, match="no plan 'growth'"):
        deal_terms(
            won(line("GROWTH-PLATFORM")),
            kind=DealKind.NEW,
            products=PRODUCTS,
            plan_of=nothing,
            currency="EUR",
        )

"""Tax per tax code, the tax on charges and the tax on credits each rounded once — as the ERP
books them, so that an invoice with a discount or a credit is the ledger's to the cent."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from revsync.domain.invoicing import Line, LineKind, TaxLine, TaxRates, tax_lines
from revsync.domain.money import Rounding, round_money
from revsync.domain.periods import Period

NOVEMBER = Period(date(2026, 11, 1), date(2026, 12, 1))
GERMANY = TaxRates({"standard": Decimal(19), "reduced": Decimal(7)})


def line(amount: str, kind: LineKind = LineKind.RECURRING, code: str = "standard") -> Line:
    value = Decimal(amount)
    return Line(f"k{amount}", kind, "p:c", "line", Decimal(1), value, value, NOVEMBER, code)


def test_a_discount_is_taxed_apart_from_the_charges_it_reduces() -> None:
    # the demo's deal in November: 25 seats, tokens, 10% off — Tryton books 58.35 - 5.83
    lines = [line("300.00"), line("7.10", LineKind.USAGE), line("-30.71", LineKind.DISCOUNT)]
    assert tax_lines(lines, GERMANY, "EUR", Rounding.HALF_EVEN) == [
        TaxLine("standard", Decimal(19), Decimal("276.39"), Decimal("52.52"))
    ]
    # the same net base without a credit is rounded once: 276.39 × 19% = 52.5141
    assert tax_lines([line("276.39")], GERMANY, "EUR", Rounding.HALF_EVEN)[0].amount == Decimal(
        "52.51"
    )


def test_each_code_has_its_own_charges_and_credits() -> None:
    lines = [
        line("10.05"),
        line("-3.33", LineKind.PRORATION),
        line("20.07", code="reduced"),
        line("-1.15", LineKind.DISCOUNT, code="reduced"),
    ]
    assert tax_lines(lines, GERMANY, "EUR", Rounding.HALF_EVEN) == [
        # 20.07 × 7% = 1.4049 → 1.40; -1.15 × 7% = -0.0805 → -0.08
        TaxLine("reduced", Decimal(7), Decimal("18.92"), Decimal("1.32")),
        # 10.05 × 19% = 1.9095 → 1.91; -3.33 × 19% = -0.6327 → -0.63
        TaxLine("standard", Decimal(19), Decimal("6.72"), Decimal("1.28")),
    ]


@given(
    amounts=st.lists(
        st.decimals(min_value=-10_000, max_value=10_000, places=2), min_size=1, max_size=8
    )
)
def test_the_tax_is_the_rounded_charges_plus_the_rounded_credits(amounts: list[Decimal]) -> None:
    lines = [line(str(a)) for a in amounts]
    found = tax_lines(lines, GERMANY, "EUR", Rounding.HALF_EVEN)
    charged = sum((a for a in amounts if a >= 0), Decimal(0))
    credited = sum((a for a in amounts if a < 0), Decimal(0))
    rate = Decimal("0.19")
    expected = round_money(charged * rate, "EUR", Rounding.HALF_EVEN) + round_money(
        credited * rate, "EUR", Rounding.HALF_EVEN
    )
    assert [(t.base, t.amount) for t in found] == [(charged + credited, expected)]
    # never more than a cent from the tax of the net base
    net = round_money((charged + credited) * rate, "EUR", Rounding.HALF_EVEN)
    assert abs(found[0].amount - net) <= Decimal("0.01")

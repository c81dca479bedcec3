"""Service credits asked on tickets: read from the ticket's fields, refused with a reason a
support agent can act on, and spread over the invoice's lines so that the lines' credits add
up to the credit exactly and never pass what is left to credit on a line."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revsync.domain.support import CreditAsk, CreditRefused, credit_ask, credit_lines

CENT = Decimal("0.01")
LIMIT = Decimal("1000.00")


@pytest.mark.parametrize(
    ("fields", "refusal"),
    [
        ({"credit_amount": "10", "credit_reason": "outage"}, "name the invoice"),
        ({"credit_invoice": "INV-1", "credit_amount": "10"}, "give the reason"),
        ({"credit_invoice": "INV-1", "credit_reason": "x"}, "either an amount or a percent"),
        (
            {
                "credit_invoice": "I",
                "credit_reason": "x",
                "credit_amount": "1",
                "credit_percent": "5",
            },
            "either an amount or a percent",
        ),
        ({"credit_invoice": "I", "credit_reason": "x", "credit_amount": "-3"}, "more than 0"),
        ({"credit_invoice": "I", "credit_reason": "x", "credit_percent": "101"}, "at most 100"),
        ({"credit_invoice": "I", "credit_reason": "x", "credit_amount": "ten"}, "not a number"),
        ({"credit_invoice": "I", "credit_reason": "x", "credit_amount": "NaN"}, "not a number"),
        ({"credit_invoice": "I", "credit_reason": "x" * 501, "credit_amount": "1"}, "over 500"),
    ],
)
def test_a_malformed_ask_is_refused_with_what_to_fix(fields: dict[str, str], refusal: str) -> None:
    with pytest.raises(CreditRefused, match=refusal):
        credit_ask(fields)


def test_an_ask_is_read_from_the_ticket_fields() -> None:
    fields = {
        "credit_invoice": " INV-000001 ",
        "credit_reason": "4h outage",
        "credit_percent": "10",
    }
    assert credit_ask(fields) == CreditAsk("INV-000001", "4h outage", None, Decimal("10"))


def test_an_amount_is_spread_over_the_lines_in_proportion_to_what_is_left() -> None:
    left = {"platform": Decimal("500.00"), "usage:calls": Decimal("250.00"), "discount": Decimal(0)}
    ask = CreditAsk("INV-1", "outage", amount=Decimal("100.00"))
    assert credit_lines(ask, Decimal("750.00"), left, CENT, LIMIT) == {
        "platform": Decimal("66.67"),
        "usage:calls": Decimal("33.33"),
    }
    tenth = CreditAsk("INV-1", "outage", percent=Decimal("10"))
    assert credit_lines(tenth, Decimal("750.00"), left, CENT, LIMIT) == {
        "platform": Decimal("50.00"),
        "usage:calls": Decimal("25.00"),
    }


@pytest.mark.parametrize(
    ("ask", "refusal"),
    [
        (CreditAsk("I", "r", amount=Decimal("1000.01")), "over the limit of 1000.00"),
        (CreditAsk("I", "r", amount=Decimal("1E+40")), "over the limit of 1000.00"),  # no crash
        (CreditAsk("I", "r", amount=Decimal("800.00")), "more than the 750.00 left"),
        (CreditAsk("I", "r", amount=Decimal("1.001")), "more decimals than the currency"),
        (CreditAsk("I", "r", percent=Decimal("0.0001")), "is nothing to credit"),
    ],
)
def test_a_credit_over_the_limit_or_what_is_left_is_refused(ask: CreditAsk, refusal: str) -> None:
    left = {"platform": Decimal("500.00"), "usage": Decimal("250.00")}
    with pytest.raises(CreditRefused, match=refusal):
        credit_lines(ask, Decimal("750.00"), left, CENT, LIMIT)


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2)


@given(
    lines=st.dictionaries(st.text("abcdef:", min_size=1, max_size=6), amounts, min_size=1),
    share=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(1), places=4),
)
def test_line_credits_add_up_to_the_credit_and_never_pass_what_is_left(
    lines: dict[str, Decimal], share: Decimal
) -> None:
    available = sum(lines.values(), Decimal(0))
    total = max((available * share).quantize(CENT), CENT)
    found = credit_lines(
        CreditAsk("I", "r", amount=total), available, lines, CENT, Decimal("10000000")
    )
    assert sum(found.values(), Decimal(0)) == total
    assert all(Decimal(0) < amount <= lines[key] for key, amount in found.items())
    assert all(amount == amount.quantize(CENT) for amount in found.values())

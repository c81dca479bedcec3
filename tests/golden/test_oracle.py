"""The oracle stands apart from revsync's rating code, and agrees with docs/billing.md's own
worked examples (the figures below are the docs', or worked out by hand from its rules)."""

from __future__ import annotations

import ast
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from tests.golden import oracle
from tests.golden.oracle import (
    Oracle,
    add_months,
    largest_remainder,
    period_at,
    plan_of,
    rate_usage,
    round_money,
)
from tests.golden.scenario import (
    Amend,
    Bill,
    Grant,
    Pick,
    PutCustomer,
    Settings,
    Subscribe,
    Usage,
    VoidInvoice,
    instant,
)

HERE = Path(__file__).parent
FORBIDDEN = (
    "revsync.domain.pricing",
    "revsync.domain.billing",
    "revsync.domain.invoicing",
    "revsync.domain.money",
)


def imports_of(path: Path) -> set[str]:
    """Every module a file imports (``from x import y`` counts ``x`` and ``x.y``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_the_oracle_imports_nothing_of_revsyncs_rating_nor_anything_that_does() -> None:
    seen: set[Path] = set()
    pending = [HERE / "oracle.py"]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        modules = imports_of(path)
        bad = sorted(m for m in modules if m.startswith(FORBIDDEN) or m.split(".")[0] == "revsync")
        assert bad == [], f"{path.name} imports {bad}"
        for module in modules:  # follow the grid's own modules it reads
            if module.startswith("tests.golden."):
                candidate = HERE.parent.parent / (module.replace(".", "/") + ".py")
                if candidate.exists():
                    pending.append(candidate)
    assert {p.name for p in seen} == {"oracle.py", "scenario.py"}


def test_the_import_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    tampered = tmp_path / "oracle.py"
    tampered.write_text(
        (HERE / "oracle.py")
        .read_text()
        .replace(
            "from fractions import Fraction\n",
            "from fractions import Fraction\n\nfrom revsync.domain.money import plain\n",
            1,
        )
    )
    assert "revsync.domain.money" in imports_of(tampered)
    assert "revsync.domain.money" not in imports_of(HERE / "oracle.py")


def cents(value: str) -> Fraction:
    return Fraction(Decimal(value))


def test_tax_per_code_rounds_the_charges_and_the_credits_apart_as_the_docs_example() -> None:
    # docs/billing.md, Money: 300.00 + 7.10 − 30.71 at 19 %: 58.35 − 5.83 = 52.52
    world = Oracle(Settings(tax=(("DE", (("standard", "19"),)),)), [], [], [])
    world.customers["c"] = oracle.Customer("c", "EUR", "UTC", "DE", False, (), None)
    invoice = oracle.Invoice(
        "x", "s", "c", "arrears", (date(2026, 11, 1), date(2026, 12, 1)), date(2026, 12, 1), "EUR"
    )
    lines = [
        oracle.OLine(
            key, "usage", "p@1:x", Fraction(1), cents(v), cents(v), "standard", invoice.period
        )
        for key, v in (("a", "300.00"), ("b", "7.10"), ("c", "-30.71"))
    ]
    world._finish(invoice, lines, [], world._rates(world.customers["c"]))
    assert invoice.taxes == [("standard", Fraction(19), cents("276.39"), cents("52.52"))]


def test_tiers_are_inclusive_of_up_to_and_packages_count_whole() -> None:
    tiers = [
        {"up_to": "1000", "unit_amount": "0"},
        {"up_to": None, "unit_amount": "0.012"},
    ]
    plan = plan_of(
        {
            "code": "p",
            "currency": "EUR",
            "interval": "month",
            "charges": [
                {
                    "key": "g",
                    "model": "graduated",
                    "description": "G",
                    "meter": "m",
                    "tiers": tiers,
                },
                {
                    "key": "k",
                    "model": "package",
                    "description": "K",
                    "meter": "m",
                    "amount": "5",
                    "package_size": "10",
                    "included": "3",
                },
            ],
        }
    )
    graduated, package = plan.charges
    assert rate_usage(graduated, Fraction(1000), {}) == [("tier-1", 1000, 0, 0)]
    assert rate_usage(graduated, Fraction(1001), {}) == [
        ("tier-1", 1000, 0, 0),
        ("tier-2", 1, cents("0.012"), cents("0.012")),
    ]
    # 3 free, then ceil(21 / 10) = 3 packages
    assert rate_usage(package, Fraction(24), {}) == [("included", 3, 0, 0), ("packages", 3, 5, 15)]


def test_rounding_rules_on_both_signs() -> None:
    half = cents("2.345")
    assert [
        round_money(half, "EUR", m) for m in ("half_even", "half_up", "half_down", "down", "up")
    ] == [
        cents("2.34"),
        cents("2.35"),
        cents("2.34"),
        cents("2.34"),
        cents("2.35"),
    ]
    assert round_money(-half, "EUR", "half_up") == cents("-2.35")
    assert round_money(-cents("2.341"), "EUR", "down") == cents("-2.34")
    assert round_money(cents("0.5"), "JPY", "half_even") == 0
    assert round_money(cents("1.23456"), "CLF", "half_even") == cents("1.2346")


def test_amount_off_splits_by_largest_remainder_in_whole_cents() -> None:
    assert largest_remainder(cents("10.00"), [Fraction(1), Fraction(1), Fraction(1)], "EUR") == [
        cents("3.34"),
        cents("3.33"),
        cents("3.33"),
    ]


def test_calendars_clamp_to_short_months_and_weeks_keep_the_anchor_weekday() -> None:
    anchor = date(2026, 1, 31)
    assert [add_months(anchor, k) for k in (1, 2, 3)] == [
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    assert period_at(date(2026, 3, 5), anchor, "month") == (date(2026, 2, 28), date(2026, 3, 31))
    monday = date(2026, 1, 5)
    assert period_at(date(2026, 3, 12), monday, "week") == (date(2026, 3, 9), date(2026, 3, 16))


def test_a_flat_fee_for_half_a_month_is_half_the_fee() -> None:
    # docs: a first period started mid-month on a calendar anchor is prorated by day:
    # 49.00 × 15 / 30 = 24.50, quantity and unit the full period's
    plan = {
        "code": "basic",
        "currency": "EUR",
        "interval": "month",
        "charges": [
            {
                "key": "platform",
                "model": "flat",
                "description": "F",
                "timing": "in_advance",
                "amount": "49.00",
            }
        ],
    }
    actions = [
        PutCustomer(instant(date(2026, 11, 15)), "acme", "EUR", tenants=("t",)),
        Subscribe(
            instant(date(2026, 11, 15)),
            "s1",
            "acme",
            "basic",
            date(2026, 11, 16),
            anchor=date(2026, 11, 1),
        ),
        Usage(instant(date(2026, 11, 20)), "e1", "t", "none", instant(date(2026, 11, 20))),
        Bill(instant(date(2026, 12, 1)), date(2026, 12, 1)),
    ]
    found = Oracle(Settings(), [plan], [], []).play(actions)
    november = found.docs["s1/advance/2026-11-01"]
    assert [(x.key, x.quantity, x.unit, x.amount, x.prorated) for x in november.lines] == [
        ("fee:platform", 1, Decimal("49.00"), Decimal("24.50"), (15, 30))
    ]
    assert november.totals[3] == Decimal("24.50")
    assert november.status == "finalized"


def test_the_oracle_refuses_to_price_what_it_does_not_know() -> None:
    with pytest.raises(oracle.Unpriced):
        plan_of(
            {
                "code": "p",
                "currency": "EUR",
                "interval": "month",
                "charges": [
                    {
                        "key": "x",
                        "model": "auction",
                        "description": "X",
                        "meter": "m",
                        "amount": "2.9",
                    }
                ],
            }
        )
    with pytest.raises(oracle.Unpriced):
        plan_of(
            {
                "code": "p",
                "currency": "EUR",
                "interval": "month",
                "charges": [
                    {"key": "x", "model": "per_unit", "meter": "m", "amount": "1", "cap": "9"}
                ],
            }
        )


def _charge(**fields: object) -> oracle.Charge:
    plan = plan_of(
        {
            "code": "p",
            "currency": "EUR",
            "interval": "month",
            "charges": [{"key": "x", "description": "X", "meter": "m", **fields}],
        }
    )
    return plan.charges[0]


def test_a_percentage_charge_raises_and_holds_each_fee_as_the_docs_line_says() -> None:
    # docs: "2.9% of 605 + 0.3 × 3 transactions, 1 raised to the minimum of 0.5, 1 held to the
    # maximum of 5": 5 pays 0.445 → 0.5, 100 pays 3.2, 500 pays 14.8 → 5; one fees line
    charge = _charge(
        model="percentage",
        rate="2.9",
        fixed_amount="0.30",
        min_per_transaction="0.5",
        max_per_transaction="5",
    )
    assert rate_usage(charge, Fraction(605), {}, [Fraction(5), Fraction(100), Fraction(500)]) == [
        ("fees", 605, cents("0.029"), cents("8.70"))
    ]


def test_a_percentage_allowance_ends_with_the_first_of_its_two_limits() -> None:
    charge = _charge(
        model="percentage", rate="2", fixed_amount="0.25", free_transactions=2, free_amount="30"
    )
    # the free amount runs out inside the second transaction: it pays on its part above (5)
    crossing = [Fraction(20), Fraction(15), Fraction(10)]
    assert rate_usage(charge, Fraction(45), {}, crossing) == [
        ("free", 30, 0, 0),
        ("fees", 15, cents("0.02"), cents("0.35") + cents("0.45")),
    ]
    # two free transactions are used up first; a wholly free one pays not even the fixed amount
    small = [Fraction(1), Fraction(2), Fraction(3)]
    assert rate_usage(charge, Fraction(6), {}, small) == [
        ("free", 3, 0, 0),
        ("fees", 3, cents("0.02"), cents("0.31")),
    ]


def test_a_carried_meter_bills_the_docs_storage_example() -> None:
    # docs: 100 GB for 10 days, a peak of 300 GB on the 11th and 200 GB for 19 days is 5,100
    # GB-days; over 30 days, 170 GB — at 0.10 per GB-month, 17.00
    meter = oracle.meter_of(
        {"key": "gb", "event_type": "s", "aggregation": "latest", "value": "v", "carried": True}
    )
    carried_in = oracle.held_before(meter, [(instant(date(2026, 10, 20)), "a", {"v": 100})])
    readings = [
        (instant(date(2026, 11, 11), 8), "b", {"v": 300}),
        (instant(date(2026, 11, 11), 20), "c", {"v": 200}),
    ]
    value_days, end = oracle.held_days(
        meter, carried_in, readings, "UTC", (date(2026, 11, 1), date(2026, 12, 1))
    )
    assert (value_days, end) == (5100, 200)
    average = oracle.held_average(value_days, 30)
    assert average == 170
    assert rate_usage(_charge(model="per_unit", amount="0.10"), average, {}) == [
        ("", 170, cents("0.10"), 17)
    ]
    # a value set at midnight is what the day starts with; a value below zero counts as zero
    at_midnight = [(instant(date(2026, 11, 2), 0), "d", {"v": -50})]
    assert oracle.held_days(
        meter, Fraction(100), at_midnight, "UTC", (date(2026, 11, 1), date(2026, 11, 4))
    ) == (100, -50)


def test_a_limited_grant_pays_its_lines_and_their_tax_as_the_docs_example() -> None:
    # docs (France, 20 %): 50.00 of fee, 12.50 of calls, 10.00 of tokens; tax 14.50, total
    # 87.00. A grant of 30.00 limited to llm_tokens pays 10.00 + 2.00 of tax = 12.00 (18.00
    # stays); an unlimited grant of 50.00 pays 50.00 of the 75.00 left; 25.00 is due.
    world = Oracle(Settings(tax=(("FR", (("standard", "20"),)),)), [], [], [])
    world.customers["c"] = oracle.Customer("c", "EUR", "UTC", "FR", False, (), None)
    period = (date(2026, 11, 1), date(2026, 12, 1))
    invoice = oracle.Invoice("x", "s", "c", "arrears", period, date(2026, 12, 1), "EUR")
    lines = [
        oracle.OLine(
            key,
            kind,
            f"p@1:{key}",
            Fraction(1),
            cents(v),
            cents(v),
            "standard",
            period,
            meter=meter,
        )
        for key, kind, v, meter in (
            ("fee:platform", "recurring", "50.00", None),
            ("usage:calls", "usage", "12.50", "api_calls"),
            ("usage:tokens", "usage", "10.00", "llm_tokens"),
        )
    ]
    world._finish(invoice, lines, [], world._rates(world.customers["c"]))
    assert invoice.total == 87
    world.wallet = [
        oracle.Wallet(0, "c", "EUR", cents("50.00"), date(2026, 11, 1), None),
        oracle.Wallet(
            1,
            "c",
            "EUR",
            cents("30.00"),
            date(2026, 11, 2),
            None,
            oracle.Scope(meters=frozenset({"llm_tokens"})),
        ),
    ]
    world._finalize(invoice)
    assert invoice.uses == [(1, 12), (0, 50)]
    assert invoice.total - invoice.credits == 25
    assert [grant.remaining for grant in world.wallet] == [0, 18]


def test_a_minimum_that_counts_the_fees_counts_a_monthly_fee_whole() -> None:
    # docs: the plan's minimum is compared with the usage and the fees' share of the usage
    # period, each day at its terms — a 100.00 monthly fee counts 100.00 in a month, however
    # often the seats change; seats at 4.00 count 3, 4 and 2 seats for 10 days each: 12.00
    plan = {
        "code": "p",
        "currency": "EUR",
        "interval": "month",
        "minimum": "150",
        "minimum_includes_fees": True,
        "charges": [
            {"key": "platform", "model": "flat", "timing": "in_advance", "amount": "100.00"},
            {"key": "seats", "model": "per_seat", "timing": "in_arrears", "amount": "4.00"},
            {"key": "use", "model": "per_unit", "meter": "m", "amount": "0.5"},
        ],
    }
    meter = {"key": "m", "event_type": "e", "aggregation": "sum", "value": "v"}
    setup = instant(date(2026, 10, 31))
    actions = [
        PutCustomer(setup, "acme", "EUR", tenants=("t",)),
        Subscribe(setup, "s1", "acme", "p", date(2026, 11, 1), seats=3),
        Amend(setup, "s1", "seat_change", date(2026, 11, 11), seats=4),
        Amend(setup, "s1", "seat_change", date(2026, 11, 21), seats=2),
        Usage(instant(date(2026, 11, 5)), "e1", "t", "e", instant(date(2026, 11, 5)), {"v": 7}),
        Bill(instant(date(2026, 12, 1)), date(2026, 12, 1)),
    ]
    found = Oracle(Settings(), [plan], [], [meter]).play(actions)
    november = found.docs["s1/arrears/2026-11-01"]
    assert [(x.key, x.amount) for x in november.lines] == [
        ("fee:2026-11-01:seats", Decimal("4")),
        ("fee:2026-11-11:seats", Decimal("5.33")),
        ("fee:2026-11-21:seats", Decimal("2.67")),
        ("minimum:2026-11-01", Decimal("34.5")),  # 150 − 3.50 of usage − 100.00 − 12.00
        ("usage:use:2026-11-01", Decimal("3.5")),
    ]
    assert november.totals[3] == Decimal("50")


def _calls_plan(**charge: object) -> dict[str, object]:
    return {
        "code": "p",
        "currency": "EUR",
        "interval": "month",
        "charges": [{"key": "calls", "meter": "m", "timing": "in_advance", **charge}],
    }


CALLS = {"key": "m", "event_type": "e", "aggregation": "sum", "value": "v"}


def _calls(day: date, count: int, name: str, sent: date | None = None) -> Usage:
    return Usage(instant(sent or day, 12), name, "t", "e", instant(day, 11), {"v": count})


def _run(day: date) -> Bill:
    return Bill(instant(day, 9), day)


def test_usage_billed_as_it_arrives_bills_day_by_day_what_is_new() -> None:
    # docs, Usage billed as it arrives: 1,000 calls free, then 0.01 each, over the whole period.
    # The run of the 2nd finds nothing (no invoice); the 4th's bills through the 3rd: 1,300
    # calls, 3.00; 100 late calls of the 2nd and 300 of the 5th: the 6th's rates 1,700 (7.00)
    # less what the 3rd's rated; the 8th's and the 30th's find nothing new (none); 200 calls on
    # the 30th are billed by the arrears invoice (the run of 1 December makes no usage
    # invoice): 1,900 calls, 9.00, less the 5th's 7.00
    plan = _calls_plan(
        model="graduated",
        tiers=[{"up_to": "1000", "unit_amount": "0"}, {"up_to": None, "unit_amount": "0.01"}],
    )
    setup = instant(date(2026, 10, 31))
    actions = [
        PutCustomer(setup, "acme", "EUR", tenants=("t",)),
        Subscribe(setup, "s1", "acme", "p", date(2026, 11, 1)),
        _run(date(2026, 11, 2)),
        _calls(date(2026, 11, 2), 600, "a"),
        _calls(date(2026, 11, 3), 700, "b"),
        _run(date(2026, 11, 4)),
        _calls(date(2026, 11, 2), 100, "c", sent=date(2026, 11, 5)),
        _calls(date(2026, 11, 5), 300, "d"),
        _run(date(2026, 11, 6)),
        _run(date(2026, 11, 8)),
        _calls(date(2026, 11, 30), 200, "e"),
        _run(date(2026, 11, 30)),
        _run(date(2026, 12, 1)),
    ]
    found = Oracle(Settings(), [plan], [], [CALLS]).play(actions).docs
    assert sorted(found) == ["s1/arrears/2026-11-01", "s1/usage/2026-11-03", "s1/usage/2026-11-05"]

    def lines(ref: str) -> list[tuple[str, Decimal, Decimal]]:
        return [(x.key, x.quantity, x.amount) for x in found[ref].lines]

    tier_1, tier_2 = "usage:calls:2026-11-01:tier-1", "usage:calls:2026-11-01:tier-2"
    third = found["s1/usage/2026-11-03"]
    assert (third.period, third.issue_date, third.status, third.series) == (
        (date(2026, 11, 3), date(2026, 11, 4)),
        date(2026, 11, 4),
        "finalized",
        "INV",
    )
    assert lines("s1/usage/2026-11-03") == [(tier_1, 1000, 0), (tier_2, 300, 3)]
    assert lines("s1/usage/2026-11-05") == [
        (f"prebilled:s1/usage/2026-11-03:{tier_1}", -1000, 0),
        (f"prebilled:s1/usage/2026-11-03:{tier_2}", -300, -3),
        (tier_1, 1000, 0),
        (tier_2, 700, 7),
    ]
    assert found["s1/usage/2026-11-05"].totals[3] == 4
    assert lines("s1/arrears/2026-11-01") == [
        (f"prebilled:s1/usage/2026-11-05:{tier_1}", -1000, 0),
        (f"prebilled:s1/usage/2026-11-05:{tier_2}", -700, -7),
        (tier_1, 1000, 0),
        (tier_2, 900, 9),
    ]
    assert found["s1/arrears/2026-11-01"].totals[3] == 2


def test_a_voided_usage_invoice_bills_nothing_and_amounts_off_stay_off_usage_invoices() -> None:
    # docs: calls at 0.10, at least 20.00 a month; 5 % off and 3.00 off, both forever. The
    # usage invoice of the 2nd (100 calls: 10.00, 0.50 off) is voided; the 4th's bills the 150
    # calls so far with no deduction (15.00, 0.75 off; an amount off is never taken on a usage
    # invoice); a draft in the grace period takes 20 late calls of the 3rd (17.00, 0.85 off).
    # The arrears invoice: 170 calls (17.00) topped up to 20.00, less the 4th's 17.00: 3.00;
    # the amount off takes it all (coupons in the order of their start dates, then codes)
    plan = _calls_plan(model="per_unit", amount="0.10", minimum="20")
    coupons = [
        {"code": "MINUS3", "duration": "forever", "amount_off": "3.00", "currency": "EUR"},
        {"code": "PARTNER5", "duration": "forever", "percent_off": "5"},
    ]
    setup = instant(date(2026, 10, 31))
    start = date(2026, 11, 1)
    actions = [
        PutCustomer(setup, "acme", "EUR", tenants=("t",)),
        Subscribe(
            setup, "s1", "acme", "p", start, coupons=(("PARTNER5", start), ("MINUS3", start))
        ),
        _calls(date(2026, 11, 2), 100, "a"),
        _run(date(2026, 11, 3)),
        _run(date(2026, 11, 6)),  # the grace period (72 h) is over: final
        VoidInvoice(instant(date(2026, 11, 6), 10), Pick("s1", "usage", date(2026, 11, 2)), "v"),
        _calls(date(2026, 11, 3), 50, "b", sent=date(2026, 11, 6)),
        _run(date(2026, 11, 8)),  # through the 7th: 150 calls
        _calls(date(2026, 11, 3), 20, "c", sent=date(2026, 11, 9)),
        _run(date(2026, 11, 10)),  # the 7th's is a draft yet: rated again; the 9th's: none new
        _run(date(2026, 12, 1)),
        _run(date(2026, 12, 4)),
    ]
    outcome = Oracle(Settings(grace_hours=72), [plan], coupons, [CALLS]).play(actions)
    found = outcome.docs
    assert outcome.looks["v"] == "s1/usage/2026-11-02/note-1"
    assert sorted(r for r in found if "/note-" not in r) == [
        "s1/arrears/2026-11-01",
        "s1/usage/2026-11-02",
        "s1/usage/2026-11-07",
    ]
    assert found["s1/usage/2026-11-02"].status == "void"
    seventh = found["s1/usage/2026-11-07"]
    assert [(x.key, x.amount) for x in seventh.lines] == [
        ("discount:PARTNER5:standard", Decimal("-0.85")),
        ("usage:calls:2026-11-01", 17),
    ]
    assert (seventh.status, seventh.totals[3]) == ("finalized", Decimal("16.15"))
    november = found["s1/arrears/2026-11-01"]
    assert [(x.key, x.amount) for x in november.lines] == [
        ("discount:MINUS3:standard", -3),
        ("prebilled:s1/usage/2026-11-07:usage:calls:2026-11-01", -17),
        ("usage:calls:2026-11-01", 17),
        ("usage:calls:2026-11-01:minimum", 3),
    ]
    assert november.totals[3] == 0


def _pro(code: str, fee: str) -> dict[str, object]:
    return {
        "code": code,
        "name": code,
        "currency": "EUR",
        "interval": "month",
        "charges": [
            {"key": "platform", "model": "flat", "timing": "in_advance", "amount": fee},
            {"key": "calls", "model": "per_unit", "meter": "m", "amount": "0.01"},
        ],
    }


def test_a_runs_invoices_of_one_customer_and_day_are_one_consolidated_invoice() -> None:
    # docs, Consolidated invoices: acme's two subscriptions (99.00 and 50.00 a month in advance,
    # calls at 0.01 in arrears), 100.00 of prepaid credit. The run of 1 November finalizes both
    # advance invoices as one (149.00: the credit is its); a part is not voided, the whole is —
    # its parts with it, the credit back. The run of 1 December: both November arrears invoices
    # (1,000 calls each: 10.00) and both December advance invoices, one invoice from 1 November
    # to 1 January (169.00, 100.00 paid). 500 late calls of November: each subscription's
    # adjustment invoice of 1 December (5.00) stays on its own (that day is consolidated)
    setup = instant(date(2026, 10, 31))
    start = date(2026, 11, 1)
    actions = [
        PutCustomer(setup, "acme", "EUR", tenants=("t",)),
        Subscribe(setup, "s1", "acme", "pro", start),
        Subscribe(setup, "s2", "acme", "lite", start),
        Grant(setup, "acme", Decimal(100), "EUR", date(2026, 10, 31)),
        _run(start),
        VoidInvoice(instant(start, 10), Pick("s2", "advance", start), "part"),
        VoidInvoice(instant(start, 11), Pick("s2", "consolidated", start), "whole"),
        _calls(date(2026, 11, 10), 1000, "a"),
        _run(date(2026, 12, 1)),
        _calls(date(2026, 11, 20), 500, "b", sent=date(2026, 12, 1)),
        Bill(instant(date(2026, 12, 1), 13), date(2026, 12, 1)),
    ]
    settings = Settings(late_usage="separate_invoice", consolidate=True)
    plans = [_pro("pro", "99.00"), _pro("lite", "50.00")]
    outcome = Oracle(settings, plans, [], [CALLS]).play(actions)
    found = outcome.docs
    november, december = (
        "s1/consolidated/2026-11-01/2026-11-01",
        "s1/consolidated/2026-11-01/2026-12-01",
    )
    assert outcome.looks == {"part": "refused", "whole": f"{november}/note-1"}
    assert sorted(found) == [
        "s1/adjustment/2026-12-01",
        "s1/advance/2026-11-01",
        "s1/advance/2026-12-01",
        "s1/arrears/2026-11-01",
        november,
        f"{november}/note-1",
        december,
        "s2/adjustment/2026-12-01",
        "s2/advance/2026-11-01",
        "s2/advance/2026-12-01",
        "s2/arrears/2026-11-01",
    ]
    first, second = found[november], found[december]
    assert (first.kind, first.period, first.status, first.series) == (
        "consolidated",
        (start, date(2026, 12, 1)),
        "void",
        "INV",
    )
    assert [(x.key, x.amount) for x in first.lines] == [
        ("s1/advance/2026-11-01:fee:platform", 99),
        ("s2/advance/2026-11-01:fee:platform", 50),
    ]
    assert (first.totals[3], first.totals[4]) == (149, 100)
    assert found[f"{november}/note-1"].totals[3:] == (-149, -100)
    for part in ("s1/advance/2026-11-01", "s2/advance/2026-11-01"):
        assert (found[part].status, found[part].series) == ("void", None)
        assert found[part].consolidated_into == november
    assert (second.period, second.status, second.series) == (
        (start, date(2027, 1, 1)),
        "finalized",
        "INV",
    )
    assert [(x.key, x.amount) for x in second.lines] == [
        ("s1/advance/2026-12-01:fee:platform", 99),
        ("s1/arrears/2026-11-01:usage:calls:2026-11-01", 10),
        ("s2/advance/2026-12-01:fee:platform", 50),
        ("s2/arrears/2026-11-01:usage:calls:2026-11-01", 10),
    ]
    assert second.totals == (169, 0, 0, 169, 100)
    for sub in ("s1", "s2"):
        part = found[f"{sub}/arrears/2026-11-01"]
        assert (part.status, part.series, part.consolidated_into) == ("finalized", None, december)
        late = found[f"{sub}/adjustment/2026-12-01"]
        assert (late.series, late.consolidated_into, late.totals[3]) == ("INV", None, 5)
        assert [x.key for x in late.lines] == [
            f"adjustment:{sub}/arrears/2026-11-01:usage:calls:2026-11-01"
        ]
    assert outcome.wallets == {"acme": {"EUR": Decimal(0)}}

"""Shadow re-rating's pure rules: plan references, the subscriptions and periods a re-rate
covers, what counts as issued for a period (adjustments folded into the lines they adjust,
deductions and other periods' adjustments left out), per-line differences, percentages and
the rankings of the customers moved most."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import (
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Line,
    LineKind,
    Totals,
    invoice_id,
)
from revsync.domain.periods import Interval, Period
from revsync.domain.pricing import plan_from_mapping
from revsync.domain.rerating import (
    CustomerDiff,
    PeriodDiff,
    PlanReference,
    adjustments_by_invoice,
    calendars_within,
    check_range,
    compare,
    customer_diffs,
    movers,
    on_code_within,
    on_plan,
    percent,
    periods_to_rate,
    plan_reference,
)
from revsync.domain.subscriptions import Change, Subscription, Terms

OCT = Period(date(2026, 10, 1), date(2026, 11, 1))
NOV = Period(date(2026, 11, 1), date(2026, 12, 1))
DEC = Period(date(2026, 12, 1), date(2027, 1, 1))
Z = Decimal("0.00")
CANDIDATE = plan_from_mapping(
    {
        "name": "X",
        "currency": "EUR",
        "interval": "month",
        "charges": [{"key": "fee", "model": "flat", "description": "Fee", "amount": "1"}],
    },
    code="x",
    version=7,
)


def sub(*terms: Terms, ends: date | None = None) -> Subscription:
    if ends is not None:
        last = terms[-1]
        terms = (*terms[:-1], Terms(**{**_fields(last), "ends": ends}))
    return Subscription("s1", "acme", date(2026, 10, 1), Interval.MONTH, Interval.MONTH, terms)


def _fields(terms: Terms) -> dict[str, object]:
    return {name: getattr(terms, name) for name in Terms.__slots__}  # type: ignore[attr-defined]


def terms(version: int, effective: date, code: str, plan_version: int = 1) -> Terms:
    change = Change.CREATED if version == 1 else Change.PLAN_CHANGE
    return Terms(version, effective, change, code, plan_version, 1)


def line(key: str, amount: str, quantity: str = "1", **extra: object) -> Line:
    kind = extra.pop("kind", LineKind.USAGE)
    return Line(
        key=key,
        kind=kind,  # type: ignore[arg-type]
        charge="metered@1:calls",
        description=str(extra.pop("description", key)),
        quantity=Decimal(quantity),
        unit_amount=Decimal(1),
        amount=Decimal(amount),
        service=OCT,
        **extra,  # type: ignore[arg-type]
    )


def invoice(
    kind: InvoiceKind,
    period: Period,
    *lines: Line,
    status: InvoiceStatus = InvoiceStatus.FINALIZED,
    issued: date | None = None,
    number: str | None = "INV-000001",
) -> Invoice:
    return Invoice(
        id=invoice_id("s1", period, kind),
        customer_id="acme",
        subscription_id="s1",
        kind=kind,
        period=period,
        currency="EUR",
        status=status,
        issue_date=issued or (period.start if kind is InvoiceKind.ADVANCE else period.end),
        lines=lines,
        taxes=(),
        totals=Totals(Z, Z, Z, Z),
        number=number if status is not InvoiceStatus.DRAFT else None,
    )


# --- references and ranges -----------------------------------------------------------------


def test_a_plan_reference_is_a_code_and_maybe_a_version() -> None:
    assert plan_reference("pro") == PlanReference("pro")
    assert plan_reference("pro@12") == PlanReference("pro", 12)
    assert str(plan_reference("pro@12")) == "pro@12"
    for bad in ("Pro", "pro@", "pro@x", "@2", "pro@0", "pro@9999999999", 7, None, "a" * 65):
        with pytest.raises(InvalidField) as caught:
            plan_reference(bad, "replaces")
        assert caught.value.field == "replaces"


def test_a_range_is_in_order_and_at_most_366_days() -> None:
    check_range(date(2026, 1, 1), date(2026, 1, 1))
    check_range(date(2028, 1, 1), date(2028, 12, 31))  # a leap year: 366 days
    with pytest.raises(InvalidField, match="before from"):
        check_range(date(2026, 2, 1), date(2026, 1, 31))
    with pytest.raises(InvalidField, match="at most 366 days"):
        check_range(date(2026, 1, 1), date(2027, 1, 2))


# --- what is covered -------------------------------------------------------------------------


def test_a_subscription_is_covered_when_on_the_code_some_day_of_the_range() -> None:
    moved = sub(terms(1, date(2026, 10, 1), "basic"), terms(2, date(2026, 11, 16), "pro"))
    assert on_code_within(moved, "basic", date(2026, 11, 1), date(2026, 11, 15))
    assert not on_code_within(moved, "basic", date(2026, 11, 16), date(2026, 12, 31))
    assert on_code_within(moved, "pro", date(2026, 11, 16), date(2026, 11, 16))
    assert not on_code_within(moved, "pro", date(2026, 10, 1), date(2026, 11, 15))
    ended = sub(terms(1, date(2026, 10, 1), "pro"), ends=date(2026, 11, 1))
    assert on_code_within(ended, "pro", date(2026, 10, 31), date(2026, 12, 31))
    assert not on_code_within(ended, "pro", date(2026, 11, 1), date(2026, 12, 31))


def test_the_calendars_of_a_range_are_those_in_force_on_some_day_of_it() -> None:
    yearly = Terms(
        2,
        date(2026, 12, 1),
        Change.PLAN_CHANGE,
        "pro-year",
        1,
        1,
        interval=Interval.YEAR,
        usage_interval=Interval.MONTH,
    )
    moved = sub(terms(1, date(2026, 10, 1), "pro"), yearly)
    monthly, annual = moved.calendars
    assert calendars_within(moved, date(2026, 10, 1), date(2026, 11, 30)) == [monthly]
    assert calendars_within(moved, date(2026, 11, 1), date(2026, 12, 1)) == [monthly, annual]
    assert calendars_within(moved, date(2027, 1, 1), date(2027, 1, 31)) == [annual]
    # on the candidate, the calendars stay as billed
    assert on_plan(moved, CANDIDATE).calendars == moved.calendars


def test_on_the_candidate_every_version_of_the_terms_names_it() -> None:
    moved = sub(terms(1, date(2026, 10, 1), "basic"), terms(2, date(2026, 11, 16), "pro", 3))
    rated = on_plan(moved, CANDIDATE)
    assert [t.plan for t in rated.terms] == [("x", 7), ("x", 7)]
    assert [(t.version, t.effective, t.seats) for t in rated.terms] == [
        (t.version, t.effective, t.seats) for t in moved.terms
    ]


def test_the_periods_covered_are_those_billing_closed_in_the_range() -> None:
    subscription = sub(terms(1, date(2026, 10, 1), "pro"))
    billed = [
        invoice(InvoiceKind.ADVANCE, OCT),
        invoice(InvoiceKind.ARREARS, OCT),
        invoice(InvoiceKind.ADVANCE, NOV),
        invoice(InvoiceKind.ARREARS, NOV, status=InvoiceStatus.DRAFT),  # in its grace period
        invoice(InvoiceKind.ADVANCE, DEC, status=InvoiceStatus.DRAFT),
    ]
    start, end = date(2026, 10, 1), date(2026, 12, 31)
    # closed through 1 November: October both ways, November's advance; the drafts are open
    assert periods_to_rate(subscription, billed, start, end) == [
        (InvoiceKind.ADVANCE, OCT),
        (InvoiceKind.ADVANCE, NOV),
        (InvoiceKind.ARREARS, OCT),
    ]
    assert periods_to_rate(subscription, billed, date(2026, 10, 2), end) == [
        (InvoiceKind.ADVANCE, NOV)
    ]
    # a voided invoice's period is left out; a period that billed nothing is covered
    voided = [
        invoice(InvoiceKind.ADVANCE, OCT, status=InvoiceStatus.VOID),
        invoice(InvoiceKind.ARREARS, OCT),
    ]
    assert periods_to_rate(subscription, voided, start, end) == [
        (InvoiceKind.ADVANCE, NOV),
        (InvoiceKind.ARREARS, OCT),
    ]
    usage_only = [invoice(InvoiceKind.ARREARS, OCT)]
    assert periods_to_rate(subscription, usage_only, start, end) == [
        (InvoiceKind.ADVANCE, OCT),
        (InvoiceKind.ADVANCE, NOV),
        (InvoiceKind.ARREARS, OCT),
    ]
    assert periods_to_rate(subscription, [], start, end) == []


# --- the comparison --------------------------------------------------------------------------


def test_adjustments_are_folded_into_the_lines_they_adjust_and_left_out_of_their_carrier() -> None:
    october = invoice(
        InvoiceKind.ARREARS, OCT, line("usage:calls:2026-10-01", "2.00", "1000"), number="INV-1"
    )
    target = f"{october.id}/usage:calls:2026-10-01"
    november = invoice(
        InvoiceKind.ARREARS,
        NOV,
        line("usage:calls:2026-11-01", "0.20", "100"),
        line(
            f"adjustment:{october.id}:usage:calls:2026-10-01",
            "1.00",
            "500",
            kind=LineKind.ADJUSTMENT,
            adjusts=target,
            description="Adjustment: API calls",
        ),
        line(
            "interim:inv_x:usage:calls:2026-11-01",
            "-0.10",
            "-50",
            kind=LineKind.ADJUSTMENT,
            adjusts="inv_x/usage:calls:2026-11-01",
        ),
        number="INV-2",
    )
    voided = invoice(
        InvoiceKind.ADJUSTMENT,
        DEC,
        line("adjustment:x", "9.00", kind=LineKind.ADJUSTMENT, adjusts=target),
        status=InvoiceStatus.VOID,
    )
    adjusting = adjustments_by_invoice([october, november, voided])
    assert list(adjusting) == [october.id]  # not the deduction, not the void invoice's
    rerated = invoice(
        InvoiceKind.ARREARS, OCT, line("usage:calls:2026-10-01", "3.00", "1500"), number=None
    )
    diff = compare("s1", InvoiceKind.ARREARS, OCT, october, adjusting[october.id], rerated)
    assert [
        (x.key, x.issued_quantity, x.issued, x.rerated_quantity, x.rerated, x.difference)
        for x in diff.lines
    ] == [
        (
            "usage:calls:2026-10-01",
            Decimal(1500),
            Decimal("3.00"),
            Decimal(1500),
            Decimal("3.00"),
            Decimal("0.00"),
        )
    ]
    assert (diff.number, diff.invoice_id) == ("INV-1", october.id)
    # November without the adjustment it carries, nor its deduction of what an interim
    # invoice billed (both sides have it): the period's whole usage
    again = invoice(
        InvoiceKind.ARREARS, NOV, *(x for x in november.lines if "adjustment" not in x.key)
    )
    same = compare("s1", InvoiceKind.ARREARS, NOV, november, (), again)
    assert [(x.key, x.issued, x.rerated) for x in same.lines] == [
        ("usage:calls:2026-11-01", Decimal("0.20"), Decimal("0.20")),
    ]
    assert same.issued == Decimal("0.20") and same.difference == 0


def test_a_line_only_one_side_has_is_zero_on_the_other_and_words_come_from_the_candidate() -> None:
    issued = invoice(InvoiceKind.ARREARS, OCT, line("usage:calls:2026-10-01", "2.40", "1200"))
    rerated = invoice(
        InvoiceKind.ARREARS,
        OCT,
        line("usage:calls:2026-10-01:tier-1", "0.00", "500", description="tier 1"),
        line("usage:calls:2026-10-01:tier-2", "2.10", "700", description="tier 2"),
    )
    diff = compare("s1", InvoiceKind.ARREARS, OCT, issued, (), rerated)
    assert [(x.key, x.description, x.issued, x.rerated, x.difference) for x in diff.lines] == [
        ("usage:calls:2026-10-01", "usage:calls:2026-10-01", Decimal("2.40"), 0, Decimal("-2.40")),
        ("usage:calls:2026-10-01:tier-1", "tier 1", 0, Decimal("0.00"), Decimal("0.00")),
        ("usage:calls:2026-10-01:tier-2", "tier 2", 0, Decimal("2.10"), Decimal("2.10")),
    ]
    assert (diff.issued, diff.rerated, diff.difference) == (
        Decimal("2.40"),
        Decimal("2.10"),
        Decimal("-0.30"),
    )
    nothing_issued = compare("s1", InvoiceKind.ADVANCE, OCT, None, (), rerated)
    assert (nothing_issued.number, nothing_issued.issued) == (None, 0)


amounts = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False)


@given(
    issued=st.lists(amounts, max_size=6),
    adjusted=st.lists(amounts, max_size=4),
    rerated=st.lists(amounts, max_size=6),
)
def test_the_differences_of_the_lines_add_up_to_the_period(
    issued: list[Decimal], adjusted: list[Decimal], rerated: list[Decimal]
) -> None:
    keys = [f"usage:k{n % 4}:2026-10-01" for n in range(10)]
    original = invoice(
        InvoiceKind.ARREARS, OCT, *(line(f"{keys[n]}:{n}", str(a)) for n, a in enumerate(issued))
    )
    adjusting = [
        line(
            f"adjustment:{original.id}:{keys[n]}",
            str(a),
            kind=LineKind.ADJUSTMENT,
            adjusts=f"{original.id}/{keys[n]}",
        )
        for n, a in enumerate(adjusted)
    ]
    again = invoice(
        InvoiceKind.ARREARS, OCT, *(line(keys[n], str(a)) for n, a in enumerate(rerated))
    )
    diff = compare("s1", InvoiceKind.ARREARS, OCT, original, adjusting, again)
    assert diff.issued == sum(issued, Decimal(0)) + sum(adjusted, Decimal(0))
    assert diff.rerated == sum(rerated, Decimal(0))
    assert diff.difference == sum((x.difference for x in diff.lines), Decimal(0))
    assert len({x.key for x in diff.lines}) == len(diff.lines)
    # the same invoice beside itself differs nowhere
    itself = compare("s1", InvoiceKind.ARREARS, OCT, original, (), original)
    assert all(x.difference == 0 for x in itself.lines)


# --- customers and rankings ------------------------------------------------------------------


def moved(customer_id: str, issued: str, rerated: str) -> CustomerDiff:
    lines = (line("fee", issued),)
    again = invoice(InvoiceKind.ADVANCE, OCT, line("fee", rerated))
    diff = compare(
        "s1", InvoiceKind.ADVANCE, OCT, invoice(InvoiceKind.ADVANCE, OCT, *lines), (), again
    )
    return CustomerDiff(customer_id, (diff,))


def test_percent_is_of_what_was_issued_to_two_decimals() -> None:
    assert percent(Decimal("-0.90"), Decimal("43.00")) == Decimal("-2.09")
    assert percent(Decimal("0.125"), Decimal("100")) == Decimal("0.12")  # half even
    assert percent(Decimal(5), Decimal(0)) is None


def test_the_customers_moved_most_by_amount_and_in_proportion() -> None:
    customers = [
        moved("a", "100.00", "90.00"),  # -10.00, -10 %
        moved("b", "10.00", "15.00"),  # +5.00, +50 %
        moved("c", "50.00", "50.00"),  # did not move
        moved("d", "0.00", "3.00"),  # +3.00, nothing issued: not ranked in proportion
        moved("e", "20.00", "10.00"),  # -10.00, -50 %
    ]
    assert [c.customer_id for c in movers(customers, 10)] == ["a", "e", "b", "d"]
    assert [c.customer_id for c in movers(customers, 2)] == ["a", "e"]
    assert [c.customer_id for c in movers(customers, 10, relative=True)] == ["b", "e", "a"]
    assert movers(customers, 0) == []
    assert [c.relative for c in customers] == [
        Decimal("-10.00"),
        Decimal("50.00"),
        Decimal("0.00"),
        None,
        Decimal("-50.00"),
    ]


def test_periods_are_gathered_by_customer_and_named_customers_are_listed_without_any() -> None:
    diff = moved("x", "1.00", "2.00").periods[0]
    later = PeriodDiff("s0", InvoiceKind.ARREARS, OCT, "i2", None, diff.lines)
    gathered = customer_diffs([("b", diff), ("a", diff), ("b", later)], named=["c", "b"])
    assert [(c.customer_id, len(c.periods)) for c in gathered] == [("a", 1), ("b", 2), ("c", 0)]
    assert [p.subscription_id for p in gathered[1].periods] == ["s0", "s1"]
    assert gathered[2].issued == 0 and gathered[2].relative is None

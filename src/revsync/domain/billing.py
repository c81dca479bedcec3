"""Rating a subscription's periods into invoice lines.

Three kinds of invoice per subscription:

- **advance** — for each recurring period ``R``: the in-advance fees (flat, per seat) on the
  terms in force when ``R`` starts, for the billable days of ``R`` (trial days and days after
  the end are not billable). Issued when ``R`` starts (or the subscription, if later).
- **arrears** — for each usage period ``U``: usage charges, rated separately on each stretch
  of ``U`` under one plan (usage before a plan change is rated on the old plan, after it on
  the new one; tiers, packages and allowances apply to each stretch in full, commitments and
  caps are prorated by day); in-arrears fees of recurring periods that end in ``U``; and the
  prorations of in-advance fees for every change of terms that takes effect in ``U``
  ("unused time on" the old terms, "remaining time on" the new, both from the change to the
  end of the recurring period). Issued when ``U`` ends (or the service ends, if sooner).
- **usage** — for usage charges billed in advance (``timing: in_advance``): the usage of an
  open usage period so far, day by day. The usage invoice of day ``D`` (issued on ``D + 1``)
  rates those charges on the period's usage before ``D + 1`` and deducts what the one before
  it rated (``deductions``), so each bills what arrived since; the period's arrears invoice
  rates them on the whole period and deducts what its usage invoices billed (a charge's
  minimum, the plan's minimum and cap are settled there). The day before the arrears
  invoice's issue day has none: the arrears invoice bills it.

A change of terms on the very day a recurring period starts needs no proration when the
advance invoice was rated on it; the advance invoice records the version it was rated on.

Periods come from the subscription's calendars (``Subscription.recurring_periods``…). A plan
change to another interval on a day D starts a new calendar: the periods in service on D serve
until D (the usage period's invoice is issued on D, with the "unused time" of the recurring
period's in-advance fees from D to its end), and the new calendar's periods run from D. A
later calendar's first period may be shorter than its interval; it is prorated over the whole
calendar period (``Subscription.full_period``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import (
    ZERO,
    Invoice,
    InvoiceKind,
    Line,
    Lineage,
    LineKind,
    RawLine,
    is_deduction,
)
from revsync.domain.metering import Aggregation, Meter
from revsync.domain.money import Rounding, plain, round_money
from revsync.domain.periods import Period
from revsync.domain.pricing import (
    RATING_CONTEXT,
    USAGE_MODELS,
    Charge,
    ChargeModel,
    Plan,
    Timing,
    UsageInput,
    cap,
    charge_minimum,
    rate_recurring,
    rate_usage,
    true_up,
)
from revsync.domain.subscriptions import Segment, Subscription, Terms

PlanLookup = Callable[[str, int], Plan]


@dataclass(frozen=True, slots=True)
class UsageRequest:
    """The usage a charge needs: one meter over local days, optionally by one dimension."""

    meter: str
    days: Period
    dimension: str | None = None
    #: each event's value as well, in the order they happened (a percentage charge's
    #: transactions)
    transactions: bool = False


@dataclass(frozen=True, slots=True)
class UsageFigure:
    """A meter's value over some days, with the lineage of the events behind it."""

    total: Decimal
    lineage: Lineage
    by_dimension: Mapping[str, Decimal] = field(default_factory=dict)
    lineage_by_dimension: Mapping[str, Lineage] = field(default_factory=dict)
    #: each event's value in time order, when the request asked for ``transactions``
    values: tuple[Decimal, ...] | None = None
    #: a carried meter's figure: ``total`` is its value summed over the days (value-days)
    carried: bool = False


UsageSource = Callable[[UsageRequest], UsageFigure]


@dataclass(frozen=True, slots=True)
class Money:
    """How amounts are rounded while rating (commitments compare rounded usage)."""

    currency: str
    rounding: Rounding


def check_meters(plan: Plan, meters: Mapping[str, Meter]) -> None:
    """Every usage charge and every feature counting usage reads a declared meter, a charge
    with the dimension it prices by."""
    for position, feature in enumerate(plan.features):
        if feature.meter is not None and feature.meter not in meters:
            raise InvalidField(
                f"features.{position}.meter", f"no meter {feature.meter!r} is declared"
            )
    for position, threshold in enumerate(plan.thresholds):
        if threshold.meter is not None and threshold.meter not in meters:
            raise InvalidField(
                f"thresholds.{position}.meter", f"no meter {threshold.meter!r} is declared"
            )
    for position, charge in enumerate(plan.charges):
        if charge.meter is None:
            continue
        where = f"charges.{position}"
        meter = meters.get(charge.meter)
        if meter is None:
            raise InvalidField(f"{where}.meter", f"no meter {charge.meter!r} is declared")
        if charge.dimension is not None:
            if charge.dimension not in meter.group_by:
                groups = ", ".join(meter.group_by) or "none"
                raise InvalidField(
                    f"{where}.dimension",
                    f"meter {meter.key!r} does not group by {charge.dimension!r} "
                    f"(group_by: {groups})",
                )
            if meter.aggregation not in (Aggregation.SUM, Aggregation.COUNT) or meter.carried:
                raise InvalidField(
                    f"{where}.meter",
                    f"prices per dimension need a sum or count meter; {meter.key!r} is "
                    f"{'carried' if meter.carried else meter.aggregation.value}",
                )
        # a carried value counts as zero below zero: its value-days only grow
        falls = not meter.carried and (
            meter.aggregation is Aggregation.LATEST or meter.allow_negative
        )
        if charge.timing is Timing.IN_ADVANCE and falls:
            raise InvalidField(
                f"{where}.timing",
                f"usage billed as it arrives needs a meter that only grows; {meter.key!r} "
                + (
                    "allows negative values"
                    if meter.allow_negative
                    else "is a latest level that is not carried"
                ),
            )
        if charge.model is ChargeModel.PERCENTAGE and (
            meter.aggregation is not Aggregation.SUM or meter.allow_negative or meter.carried
        ):
            raise InvalidField(
                f"{where}.meter",
                f"a percentage charge takes a percent of each transaction's amount: it needs a "
                f"sum meter of the amounts that refuses negative values; {meter.key!r} is "
                f"{meter.aggregation.value}"
                + (" and allows negative values" if meter.allow_negative else "")
                + (" and carried" if meter.carried else ""),
            )


def charge_ref(plan: Plan, charge: Charge) -> str:
    """A stable reference to a plan version's charge: ``pro@2:api_calls``."""
    return f"{plan.code}@{plan.version}:{charge.key}"


def _key(*parts: object) -> str:
    return ":".join(str(p) for p in parts if p not in ("", None))


# --- periods ----------------------------------------------------------------------------


def recurring_periods(sub: Subscription, until: date) -> list[Period]:
    """Recurring periods from the start until ``until`` (exclusive), cut at the end of service
    (across the subscription's calendars)."""
    end = min(until, sub.ends) if sub.ends else until
    return sub.recurring_periods(sub.start, end)


def usage_periods(sub: Subscription, until: date) -> list[Period]:
    """Usage periods from the start until ``until`` (exclusive), cut at the end of service
    (across the subscription's calendars)."""
    end = min(until, sub.ends) if sub.ends else until
    return sub.usage_periods(sub.start, end)


def advance_issue_date(sub: Subscription, period: Period) -> date:
    """When the advance invoice of a recurring period is issued: its first day of service."""
    return max(period.start, sub.start)


def arrears_issue_date(sub: Subscription, period: Period) -> date:
    """When the arrears invoice of a usage period is issued: its end, or the end of service,
    or the day a new calendar starts."""
    end = sub.service_end(period)
    return min(end, sub.ends) if sub.ends else end


# --- advance ----------------------------------------------------------------------------


def advance_lines(
    sub: Subscription, period: Period, plans: PlanLookup
) -> tuple[list[RawLine], int | None]:
    """In-advance fees of a recurring period, and the terms version they were rated on."""
    terms = sub.terms_on(max(period.start, sub.start))
    if terms is None:
        return [], None
    lines = _fees(
        sub, terms, period, Period(period.start, period.end), Timing.IN_ADVANCE, plans, "fee"
    )
    return lines, terms.version


def _fees(
    sub: Subscription,
    terms: Terms,
    period: Period,
    days: Period,
    timing: Timing,
    plans: PlanLookup,
    prefix: str,
    sign: int = 1,
    wording: str = "",
) -> list[RawLine]:
    """Recurring fees of ``terms`` for the billable days of ``days`` within ``period``."""
    plan = plans(*terms.plan)
    billable = terms.billable_days(days.start, days.end, sub.start)
    if billable == 0:
        return []
    first = max(days.start, sub.start, terms.trial_end or days.start)
    service = Period(first, min(days.end, terms.ends or days.end))
    lines = []
    for charge in plan.charges:
        if charge.model in USAGE_MODELS or charge.timing is not timing:
            continue
        for rated in rate_recurring(
            charge, seats=terms.seats, days=billable, period_days=sub.full_period(period).days
        ):
            lines.append(
                RawLine(
                    key=_key(prefix, charge.key, rated.part),
                    kind=LineKind.RECURRING if sign > 0 and not wording else LineKind.PRORATION,
                    charge=charge_ref(plan, charge),
                    description=f"{wording}{rated.description}",
                    quantity=rated.quantity,
                    unit_amount=rated.unit_amount,
                    amount=rated.amount if sign > 0 else rated.amount.copy_negate(),
                    service=service,
                    tax_code=charge.tax_code,
                )
            )
    return lines


# --- arrears ----------------------------------------------------------------------------


def plan_segments(sub: Subscription, period: Period) -> list[Segment]:
    """The period's segments merged where the plan and billability do not change."""
    merged: list[Segment] = []
    for segment in sub.segments(period):
        last = merged[-1] if merged else None
        if last and last.terms.plan == segment.terms.plan and last.billable == segment.billable:
            merged[-1] = Segment(last.start, segment.end, segment.terms, last.billable)
        else:
            merged.append(segment)
    return merged


def arrears_lines(
    sub: Subscription,
    period: Period,
    plans: PlanLookup,
    usage: UsageSource,
    money: Money,
    advance_basis: Callable[[Period], int | None],
) -> list[RawLine]:
    """Usage, in-arrears fees and prorations of one usage period.

    ``advance_basis`` tells, for a recurring period, the terms version its advance invoice
    was finalized on (``None`` while it is a draft or does not exist).
    """
    lines = _usage_lines(sub, period, plans, usage, money)
    served = Period(period.start, sub.service_end(period))  # a new calendar may end it early
    for recurring in sub.recurring_periods(served.start, served.end):
        last_day = sub.service_end(recurring)
        last_day = min(last_day, sub.ends) if sub.ends else last_day
        if served.start < last_day <= served.end:  # the recurring period ends in this one
            lines += _arrears_fees(sub, recurring, plans)
        lines += _prorations(sub, recurring, served, plans, advance_basis(recurring))
    return lines


def interim_lines(
    sub: Subscription, period: Period, plans: PlanLookup, usage: UsageSource, money: Money
) -> list[RawLine]:
    """What an interim invoice of ``period`` bills: its usage charges billed in arrears, rated
    on the usage so far (each stretch under one plan, caps prorated as on the period's
    invoice). No fees and no minimum: they are billed when the period ends; no in-advance
    usage charge: usage invoices bill those."""
    return [
        line
        for line in _usage_lines(sub, period, plans, usage, money, timing=Timing.IN_ARREARS)
        if line.kind is not LineKind.MINIMUM
    ]


def usage_invoice_lines(
    sub: Subscription,
    period: Period,
    through: date,
    plans: PlanLookup,
    usage: UsageSource,
    money: Money,
) -> list[RawLine]:
    """What the usage invoices of ``period`` have billed once the one through the day before
    ``through`` is issued: its in-advance usage charges rated on the usage of its days before
    ``through`` (each stretch under one plan, keyed as on the period's invoice). Only the
    usage lines: a charge's minimum, the plan's minimum and its cap are settled when the
    period ends, on its invoice."""
    return [
        line
        for line in _usage_lines(
            sub, period, plans, usage, money, timing=Timing.IN_ADVANCE, until=through
        )
        if line.kind is LineKind.USAGE
    ]


def has_usage_in_advance(sub: Subscription, period: Period, plans: PlanLookup) -> bool:
    """Whether a plan in force in the period has a usage charge billed in advance."""
    return any(
        charge.timing is Timing.IN_ADVANCE
        for _, _, charges in _usage_charges(sub, period, plans)
        for charge, _ in charges
    )


def latest_interim(interims: Sequence[Invoice]) -> Invoice | None:
    """The interim invoice issued last (by issue date, then number)."""
    return max(interims, key=lambda i: (i.issue_date, i.number or "", i.id), default=None)


def deductions(interims: Sequence[Invoice], *, usage: bool = False) -> list[RawLine]:
    """What the period's interim invoices (``usage``: its usage invoices) billed together,
    taken off the invoice that bills the whole period (or the next one of theirs). Each bills
    the usage so far less what the one before it billed, so together they billed what the
    latest one rated: its charged lines, negated, keyed by it and the line, as adjustments of
    it. Discounts are not deducted: each invoice's own discount is computed on what it bills
    (``discount_lines``)."""
    latest = latest_interim(interims)
    if latest is None:
        return []
    # a usage invoice is named by its day: the one deducted may be a draft yet
    prefix, through = (
        ("prebilled", f"usage invoices through {latest.period.start.isoformat()}")
        if usage
        else ("interim", f"interim invoices through {latest.number}")
    )
    return [
        RawLine(
            key=_key(prefix, latest.id, line.key),
            kind=LineKind.ADJUSTMENT,
            charge=line.charge,
            description=f"Billed on {through}: {line.description}",
            quantity=-line.quantity,
            unit_amount=line.unit_amount,
            amount=-line.amount,
            service=line.service,
            tax_code=line.tax_code,
            adjusts=f"{latest.id}/{line.key}",
        )
        for line in latest.lines
        if line.kind is not LineKind.DISCOUNT and not is_deduction(line)
    ]


def _usage_charges(
    sub: Subscription,
    period: Period,
    plans: PlanLookup,
    *,
    timing: Timing | None = None,
    until: date | None = None,
) -> Iterator[tuple[Segment, Plan, list[tuple[Charge, UsageRequest]]]]:
    """Each billable stretch of the period under one plan, with its usage charges (those
    billed with ``timing``, or all) and the usage each reads (of the days before ``until``)."""
    for segment in plan_segments(sub, period):
        if until is not None and segment.start >= until:
            break
        if not segment.billable:
            continue
        plan = plans(*segment.terms.plan)
        days = Period(segment.start, min(segment.end, until) if until else segment.end)
        charges = [
            (
                charge,
                UsageRequest(
                    charge.meter,
                    days,
                    charge.dimension,
                    transactions=charge.model is ChargeModel.PERCENTAGE,
                ),
            )
            for charge in plan.charges
            if charge.model in USAGE_MODELS
            and charge.meter is not None
            and (timing is None or charge.timing is timing)
        ]
        yield segment, plan, charges


def usage_requests(
    sub: Subscription, period: Period, plans: PlanLookup, *, until: date | None = None
) -> list[UsageRequest]:
    """The usage the arrears invoice of ``period`` reads (what :func:`arrears_lines` asks);
    with ``until``, what its usage invoice through the day before reads
    (:func:`usage_invoice_lines`)."""
    timing = None if until is None else Timing.IN_ADVANCE
    return [
        request
        for _, _, charges in _usage_charges(sub, period, plans, timing=timing, until=until)
        for _, request in charges
    ]


def _usage_lines(
    sub: Subscription,
    period: Period,
    plans: PlanLookup,
    usage: UsageSource,
    money: Money,
    *,
    timing: Timing | None = None,
    until: date | None = None,
) -> list[RawLine]:
    lines: list[RawLine] = []
    # what usage period amounts are prorated over: the whole period, even for the first,
    # shorter period of a later calendar on the calendar
    whole = sub.full_period(period, usage=True).days
    for segment, plan, charges in _usage_charges(sub, period, plans, timing=timing, until=until):
        days = Period(segment.start, min(segment.end, until) if until else segment.end)
        rated_total = ZERO
        for charge, request in charges:
            figure = usage(request)
            charged = ZERO
            given = UsageInput(figure.total, figure.by_dimension, figure.values)
            held = ""
            if figure.carried:
                # a carried meter bills the value held each day: its average over the period
                given = UsageInput(carried_quantity(figure.total, whole))
                held = f" (held {plain(figure.total)} unit-days of {whole})"
            for rated in rate_usage(charge, given):
                lineage = figure.lineage
                if rated.group:
                    lineage = figure.lineage_by_dimension.get(rated.group[0][1], lineage)
                lines.append(
                    RawLine(
                        key=_key("usage", charge.key, segment.start, rated.part),
                        kind=LineKind.USAGE,
                        charge=charge_ref(plan, charge),
                        description=f"{rated.description}{held}",
                        quantity=rated.quantity,
                        unit_amount=rated.unit_amount,
                        amount=rated.amount,
                        service=days,
                        tax_code=charge.tax_code,
                        lineage=lineage,
                    )
                )
                charged += round_money(rated.amount, money.currency, money.rounding)
            floor = charge_minimum(charge, max(charged, ZERO), days=segment.days, period_days=whole)
            if floor is not None:
                lines.append(
                    RawLine(
                        key=_key("usage", charge.key, segment.start, floor.part),
                        kind=LineKind.MINIMUM,
                        charge=charge_ref(plan, charge),
                        description=floor.description,
                        quantity=floor.quantity,
                        unit_amount=floor.unit_amount,
                        amount=floor.amount,
                        service=days,
                        tax_code=charge.tax_code,
                    )
                )
                charged += round_money(floor.amount, money.currency, money.rounding)
            rated_total += charged
        counted = max(rated_total, ZERO)
        if plan.minimum_includes_fees:
            counted += _fees_share(sub, segment, plan, money)
        for extra, kind in (
            (
                true_up(plan, counted, days=segment.days, period_days=whole),
                LineKind.MINIMUM,
            ),
            (cap(plan, rated_total, days=segment.days, period_days=whole), LineKind.CAP),
        ):
            if extra is not None:
                lines.append(
                    RawLine(
                        key=_key(kind.value, segment.start),
                        kind=kind,
                        charge=f"{plan.code}@{plan.version}:{kind.value}",
                        description=extra.description,
                        quantity=extra.quantity,
                        unit_amount=extra.unit_amount,
                        amount=extra.amount,
                        service=days,
                        tax_code=_usage_tax_code(plan),
                    )
                )
    return lines


#: a carried meter's average is kept to this many decimal places
CARRIED_PLACES = Decimal(1).scaleb(-18)


def carried_quantity(value_days: Decimal, period_days: int) -> Decimal:
    """A carried meter's billed quantity: its value-days over the usage period's days, to 18
    decimal places (half even) — 10 seats for 15 of 30 days is 5."""
    exact = RATING_CONTEXT.divide(value_days, period_days)
    kept = exact.quantize(CARRIED_PLACES, context=RATING_CONTEXT)
    if kept == kept.to_integral_value():
        return kept.quantize(Decimal(1))
    return kept.normalize(RATING_CONTEXT)  # a fraction: no exponent, no trailing zeros


def _fees_share(sub: Subscription, segment: Segment, plan: Plan, money: Money) -> Decimal:
    """The recurring fees of ``plan`` for the billable days of ``segment``, prorated by day
    over the recurring periods they fall in, each fee's share rounded once (however many
    changes of seats cut the stretch: a 100.00 monthly fee counts 100.00 in a month): what a
    minimum that includes fees counts besides usage."""
    shares: dict[str, Decimal] = {}
    stretch = Period(segment.start, segment.end)
    for recurring in sub.recurring_periods(stretch.start, stretch.end):
        served = sub.service_end(recurring)
        within = Period(max(recurring.start, stretch.start), min(served, stretch.end))
        for part in sub.segments(within):
            billable = part.terms.billable_days(part.start, part.end, sub.start)
            if billable == 0 or part.terms.plan != (plan.code, plan.version):
                continue
            for charge in plan.charges:
                if charge.model in USAGE_MODELS:
                    continue
                for rated in rate_recurring(
                    charge,
                    seats=part.terms.seats,
                    days=billable,
                    period_days=sub.full_period(recurring).days,
                ):
                    shares[charge.key] = RATING_CONTEXT.add(
                        shares.get(charge.key, ZERO), rated.amount
                    )
    return sum(
        (round_money(share, money.currency, money.rounding) for share in shares.values()), ZERO
    )


def _usage_tax_code(plan: Plan) -> str:
    codes = [c.tax_code for c in plan.charges if c.model in USAGE_MODELS]
    return codes[0] if codes else "standard"


def _arrears_fees(sub: Subscription, recurring: Period, plans: PlanLookup) -> list[RawLine]:
    """In-arrears fees of a recurring period, per stretch of terms."""
    lines: list[RawLine] = []
    for segment in sub.segments(recurring):
        days = Period(segment.start, segment.end)
        lines += _fees(
            sub,
            segment.terms,
            recurring,
            days,
            Timing.IN_ARREARS,
            plans,
            _key("fee", segment.start),
        )
    return lines


def _prorations(
    sub: Subscription, recurring: Period, usage_period: Period, plans: PlanLookup, basis: int | None
) -> list[RawLine]:
    """In-advance fee prorations for changes of terms that take effect in ``usage_period``
    (the days it serves), and the unused time of a recurring period that a new calendar ends
    early, on the usage period that ends with it."""
    changes: list[tuple[Terms | None, Terms]] = []
    start_terms = sub.terms_on(max(recurring.start, sub.start))
    first_day = max(recurring.start, sub.start)
    served = sub.service_end(recurring)
    # The advance invoice is rated on the terms in force when the period starts; only when it
    # was finalized on other terms (a change recorded later, effective that very day) is a
    # proration at the start needed. A draft is simply rated again.
    if (
        basis is not None
        and start_terms is not None
        and first_day in usage_period
        and basis != start_terms.version
    ):
        changes.append((sub.terms[basis - 1], start_terms))
    for previous, terms in sub.changes_in(recurring):
        # a change on the day service ends is prorated on the usage period that ends then (an
        # annual fee cancelled on a month's first day: its last month's invoice)
        at_the_end = terms.effective == usage_period.end == sub.ends
        if first_day < terms.effective < served and (terms.effective in usage_period or at_the_end):
            before: Terms | None = previous
            if changes and changes[-1][1].effective == terms.effective:
                # several versions effective the same day: only the last one was ever in
                # force, so the change is from the terms before the first to the last
                before = changes.pop()[0]
            changes.append((before, terms))
    lines: list[RawLine] = []
    for before, after in changes:
        remaining = Period(max(after.effective, first_day), recurring.end)
        label = remaining.start
        old = (
            _fees(
                sub,
                before,
                recurring,
                remaining,
                Timing.IN_ADVANCE,
                plans,
                _key("proration", label, f"v{before.version}"),
                sign=-1,
                wording="Unused time on ",
            )
            if before is not None
            else []
        )
        new = _fees(
            sub,
            after,
            recurring,
            remaining,
            Timing.IN_ADVANCE,
            plans,
            _key("proration", label, f"v{after.version}"),
            wording="Remaining time on ",
        )
        lines += _changed_fees(old, new)
    if served < recurring.end and usage_period.start < served <= usage_period.end:
        lines += _unused_time(sub, recurring, served, plans)
    return lines


def _unused_time(
    sub: Subscription, recurring: Period, end: date, plans: PlanLookup
) -> list[RawLine]:
    """The credit for a recurring period that a new calendar ends on ``end``: the in-advance
    fees of the terms in force the day before, from ``end`` to the period's end."""
    before = sub.terms_on(end - timedelta(days=1))
    if before is None:
        return []
    return _fees(
        sub,
        before,
        recurring,
        Period(end, recurring.end),
        Timing.IN_ADVANCE,
        plans,
        _key("proration", end, f"v{before.version}"),
        sign=-1,
        wording="Unused time on ",
    )


def _changed_fees(old: list[RawLine], new: list[RawLine]) -> list[RawLine]:
    """The proration lines of the fees a change really changes: a fee the same before and
    after (same charge, quantity, amount and days — e.g. the platform fee on a seat change)
    cancels out and is left off."""

    def same(line: RawLine) -> tuple[object, ...]:
        return (line.charge, line.quantity, abs(line.amount), line.service)

    unchanged = {same(x) for x in old} & {same(x) for x in new}
    return [x for x in old + new if same(x) not in unchanged]


# --- adjustments -------------------------------------------------------------------------


def adjustments(
    invoice_id: str,
    billed: Mapping[str, Line],
    adjusted: Mapping[str, tuple[Decimal, Decimal]],
    expected: Mapping[str, Line],
) -> list[RawLine]:
    """Lines that bring a finalized invoice to what it should be now.

    ``billed``: its lines by key; ``adjusted``: (quantity, amount) already added by earlier
    adjustments per key; ``expected``: the lines it would have if rated now. Each difference
    becomes one adjustment line, keyed by the invoice and line it corrects. Its lineage is
    that of the usage as rated now — also for a line no longer there (the upper tier of usage
    that fell below it), whose window another line rated now still counts.
    """
    rated_now = {_counting(x.lineage): x.lineage for x in expected.values() if x.lineage}
    result: list[RawLine] = []
    for key in sorted(set(billed) | set(expected)):
        was = billed.get(key)
        now = expected.get(key)
        prior_qty, prior_amount = adjusted.get(key, (ZERO, ZERO))
        billed_amount = (was.amount if was else ZERO) + prior_amount
        billed_qty = (was.quantity if was else ZERO) + prior_qty
        target_amount = now.amount if now else ZERO
        target_qty = now.quantity if now else ZERO
        if target_amount == billed_amount and target_qty == billed_qty:
            continue
        source = now or was
        assert source is not None
        lineage = source.lineage
        if now is None and lineage is not None:
            lineage = rated_now.get(_counting(lineage), lineage)
        result.append(
            RawLine(
                key=_key("adjustment", invoice_id, key),
                kind=LineKind.ADJUSTMENT,
                charge=source.charge,
                description=f"Adjustment: {source.description}",
                quantity=target_qty - billed_qty,
                unit_amount=source.unit_amount,
                amount=target_amount - billed_amount,
                service=source.service,
                tax_code=source.tax_code,
                lineage=lineage,
                adjusts=f"{invoice_id}/{key}",
            )
        )
    return result


def _counting(lineage: Lineage) -> tuple[object, ...]:
    """What a lineage counts (meter, window, customers, group), whatever it found there."""
    return (lineage.meter, lineage.start, lineage.end, lineage.customer_ids, lineage.group)


KIND_ORDER = (InvoiceKind.ADVANCE, InvoiceKind.ARREARS)

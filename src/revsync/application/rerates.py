"""Shadow re-rating: what a plan version, or a plan not stored yet, would have billed over
periods already billed, beside what was issued — per customer and line, nothing written.

The candidate replaces the plan of every stretch of the subscriptions re-rated; everything
else is as billed (seats, trials, dates, coupons, the usage as it stands now). The periods are
rated again by billing itself (``Billing.rate_again``: the same reading, usage figures and
domain rating as a run), through a :class:`Billing` of its own that computes no tax and reads
the usage without a lock; the comparison is ``revsync.domain.rerating``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from revsync.application.billing import Billing
from revsync.domain.billing import check_meters
from revsync.domain.errors import InvalidField
from revsync.domain.identity import Customer
from revsync.domain.invoicing import Invoice, InvoiceKind, Line, TaxRates, invoice_id
from revsync.domain.metering import Meter
from revsync.domain.periods import Period
from revsync.domain.pricing import Plan, plan_from_mapping, plan_to_mapping
from revsync.domain.rerating import (
    DEFAULT_TOP,
    MAX_CUSTOMERS,
    MAX_TOP,
    PeriodDiff,
    Rerate,
    RerateError,
    adjustments_by_invoice,
    calendars_within,
    check_range,
    compare,
    customer_diffs,
    issued_invoice,
    on_code_within,
    periods_to_rate,
    plan_reference,
)
from revsync.domain.subscriptions import Subscription
from revsync.ports.repositories import UnitOfWork, UnitOfWorkFactory

#: the longest customer id a re-rate names
MAX_ID = 200


@dataclass(frozen=True, slots=True)
class RerateRequest:
    """What to re-rate: the days whose periods are rated again (``start`` to ``end``,
    inclusive), the candidate — a stored plan (``plan``: ``CODE`` for its newest version or
    ``CODE@VERSION``) or a plan not stored (``definition``: as ``PUT /v1/plans/{code}`` takes
    it, with its ``code``) — and optionally the customers, the plan code whose subscriptions
    the candidate takes (``replaces``, default: the candidate's own code), how many customers
    each ranking lists, and the customers the caller may see (``within``; None: all)."""

    start: date
    end: date
    plan: str | None = None
    definition: Mapping[str, Any] | None = None
    customers: Sequence[str] | None = None
    replaces: str | None = None
    top: int = DEFAULT_TOP
    within: frozenset[str] | None = None


class Untaxed:
    """The tax port of a re-rate: no tax (amounts are compared before tax)."""

    def rates(
        self, *, country: str | None, exempt: bool, codes: Collection[str], on: date
    ) -> TaxRates:
        return TaxRates(exempt=True)


@dataclass(frozen=True, slots=True)
class _Candidate:
    plan: Plan
    stored: bool
    #: given whole with the request (refusals name its fields), not by reference
    inline: bool


class Rerates:
    """Shadow re-rates: read, rated again by ``billing``, compared; nothing is stored."""

    def __init__(
        self, unit_of_work: UnitOfWorkFactory, billing: Billing, meters: Sequence[Meter]
    ) -> None:
        self._uow = unit_of_work
        self._billing = billing
        self._meters = {m.key: m for m in meters}

    def run(self, request: RerateRequest) -> Rerate:
        """Re-rate the periods of ``request`` on its candidate and compare them with what was
        issued. Refused (naming the field) before anything is rated: dates the wrong way
        round or too far apart, a candidate that is not a valid plan, prices an undeclared
        meter, or does not fit a subscription it would take (another currency or interval),
        an unknown customer."""
        check_range(request.start, request.end)
        if not 0 <= request.top <= MAX_TOP:
            raise InvalidField("top", f"must be from 0 to {MAX_TOP}")
        with self._uow(write=False) as uow:
            candidate = self._candidate(uow, request)
            replaces = self._replaces(uow, request, candidate)
            named = self._named(uow, request)
            chosen = self._chosen(uow, request, replaces, named)
            self._check_fit(uow, candidate, chosen, request.start, request.end)
        plan = candidate.plan
        start, end = request.start, request.end
        covered: dict[str, list[tuple[InvoiceKind, Period]]] = {}

        def select(
            sub: Subscription, invoices: Sequence[Invoice]
        ) -> list[tuple[InvoiceKind, Period]]:
            found = covered[sub.id] = periods_to_rate(sub, invoices, start, end)
            return found

        results, cutoff = self._billing.rate_again(chosen, plan, select)
        periods: list[tuple[str, PeriodDiff]] = []
        errors: list[RerateError] = []
        for result in results:
            sub = result.subscription
            issued = {i.id: i for i in result.invoices}
            adjusting = adjustments_by_invoice(result.invoices)
            for kind, period in covered.get(sub.id, ()):
                target = invoice_id(sub.id, period, kind)
                if target in result.failed:
                    errors.append(
                        RerateError(sub.id, sub.customer_id, period, result.failed[target])
                    )
                    continue
                diff = _period(sub, kind, period, issued, adjusting, result.rated.get(target))
                if diff is not None:
                    periods.append((sub.customer_id, diff))
        return Rerate(
            plan=f"{plan.code}@{plan.version}",
            stored=candidate.stored,
            replaces=replaces,
            start=start,
            end=end,
            currency=plan.currency,
            customers=customer_diffs(periods, named),
            errors=tuple(errors),
            usage_cutoff_seq=cutoff,
            top=request.top,
        )

    # --- what is re-rated ----------------------------------------------------------------

    def _candidate(self, uow: UnitOfWork, request: RerateRequest) -> _Candidate:
        if (request.plan is None) == (request.definition is None):
            raise InvalidField(
                "plan", "give one plan: a stored one (CODE or CODE@VERSION) or a definition"
            )
        if request.plan is not None:
            reference = plan_reference(request.plan)
            found = (
                uow.plans.latest(reference.code)
                if reference.version is None
                else uow.plans.get(reference.code, reference.version)
            )
            if found is None:
                raise InvalidField("plan", f"no plan {str(reference)!r} is stored")
            try:
                check_meters(found, self._meters)
            except InvalidField as error:
                raise InvalidField("plan", f"{reference}: {error}") from None
            return _Candidate(found, True, inline=False)
        assert request.definition is not None  # one of the two, checked above
        return self._defined(uow, request.definition)

    def _defined(self, uow: UnitOfWork, definition: Mapping[str, Any]) -> _Candidate:
        """A plan given whole: validated as a plan put would be; a stored version when it is
        the same as one, else the version it would be stored as."""
        data = dict(definition)
        code = data.pop("code", None)
        if code is None:
            raise InvalidField("plan.code", "required: the plan's code")
        try:
            plan = plan_from_mapping(data, code=code, version=1)
            check_meters(plan, self._meters)
        except InvalidField as error:
            raise InvalidField(f"plan.{error.field}", error.reason) from None
        versions = uow.plans.versions(plan.code)
        same = plan_to_mapping(plan)
        for stored in versions:
            if plan_to_mapping(stored) == same:
                return _Candidate(stored, True, inline=True)
        newest = max((v.version for v in versions), default=0)
        return _Candidate(replace(plan, version=newest + 1), False, inline=True)

    def _replaces(self, uow: UnitOfWork, request: RerateRequest, candidate: _Candidate) -> str:
        if request.replaces is None:
            code = candidate.plan.code
            if uow.plans.latest(code) is None:
                raise InvalidField(
                    "replaces",
                    f"no subscription is on plan {code!r} (none is stored): name the plan "
                    "whose subscriptions the candidate would take",
                )
            return code
        reference = plan_reference(request.replaces, "replaces")
        if reference.version is not None:
            raise InvalidField("replaces", "a plan code, without a version")
        if uow.plans.latest(reference.code) is None:
            raise InvalidField("replaces", f"no plan {reference.code!r} is stored")
        return reference.code

    def _named(self, uow: UnitOfWork, request: RerateRequest) -> tuple[str, ...]:
        """The customers the request names (each once, in its order), each known and within
        the caller's reach (one beyond it is refused as unknown)."""
        if request.customers is None:
            return ()
        if len(request.customers) > MAX_CUSTOMERS:
            raise InvalidField("customers", f"at most {MAX_CUSTOMERS} customers")
        for index, customer_id in enumerate(request.customers):
            if not isinstance(customer_id, str) or not customer_id:
                raise InvalidField(f"customers.{index}", "expected a customer id")
            if len(customer_id) > MAX_ID:
                raise InvalidField(f"customers.{index}", f"longer than {MAX_ID} characters")
        named = tuple(dict.fromkeys(request.customers))
        known = {c.id for c in uow.customers.many(named)}
        for index, customer_id in enumerate(request.customers):
            if customer_id not in known or (
                request.within is not None and customer_id not in request.within
            ):
                raise InvalidField(f"customers.{index}", f"no customer {customer_id!r}")
        return named

    def _chosen(
        self, uow: UnitOfWork, request: RerateRequest, code: str, named: tuple[str, ...]
    ) -> list[Subscription]:
        """The subscriptions on plan ``code`` on some day of the range: of the customers named,
        else of every customer the caller sees."""
        pool = (
            uow.subscriptions.of_customers(named)
            if request.customers is not None
            else uow.subscriptions.billable(request.end)
        )
        within = request.within
        return sorted(
            (
                s
                for s in pool
                if (within is None or s.customer_id in within)
                and on_code_within(s, code, request.start, request.end)
            ),
            key=lambda s: s.id,
        )

    def _check_fit(
        self,
        uow: UnitOfWork,
        candidate: _Candidate,
        chosen: Sequence[Subscription],
        start: date,
        end: date,
    ) -> None:
        """The candidate bills in each customer's currency and on the calendars of each
        subscription in the range (a re-rate keeps the periods as billed)."""
        plan, inline = candidate.plan, candidate.inline
        customers: dict[str, Customer] = {
            c.id: c for c in uow.customers.many({s.customer_id for s in chosen})
        }
        for sub in chosen:
            currency = customers[sub.customer_id].currency
            if currency != plan.currency:
                raise InvalidField(
                    "plan.currency" if inline else "plan",
                    f"the plan bills in {plan.currency}; customer {sub.customer_id!r} "
                    f"(subscription {sub.id!r}) is billed in {currency}",
                )
            for calendar in calendars_within(sub, start, end):
                if (calendar.interval, calendar.usage_interval) != (
                    plan.interval,
                    plan.usage_interval,
                ):
                    raise InvalidField(
                        "plan.interval" if inline else "plan",
                        f"the plan bills every {plan.interval.value} (usage every "
                        f"{plan.usage_interval.value}); subscription {sub.id!r} is billed every "
                        f"{calendar.interval.value} (usage every "
                        f"{calendar.usage_interval.value}) from {calendar.start}: a re-rate "
                        "keeps the periods as billed",
                    )


def _period(
    sub: Subscription,
    kind: InvoiceKind,
    period: Period,
    invoices: Mapping[str, Invoice],
    adjusting: Mapping[str, list[Line]],
    rerated: Invoice | None,
) -> PeriodDiff | None:
    """A period issued, re-rated, or both, compared; None when it is neither."""
    target = invoice_id(sub.id, period, kind)
    issued = issued_invoice(invoices, target)
    if issued is None and rerated is None:
        return None
    return compare(sub.id, kind, period, issued, adjusting.get(target, ()), rerated)

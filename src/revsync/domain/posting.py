"""Posting to the ledger: which ERP product and revenue account each invoice line goes to, and
how revenue billed in advance for a long service period is recognised month by month.

Pure rules: the ERP connector applies them, the configuration is checked with them at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import LineKind
from revsync.domain.money import allocate
from revsync.domain.periods import Period
from revsync.domain.pricing import USAGE_MODELS, Plan


@dataclass(frozen=True, slots=True)
class PostingRule:
    """Lines matching every given criterion post to ``product`` and ``account``. A criterion
    left out matches anything; the most specific matching rule wins."""

    product: str
    account: str
    charge: str | None = None  # "<plan code>:<charge key>"
    kind: LineKind | None = None
    currency: str | None = None

    @property
    def specificity(self) -> tuple[bool, bool, bool]:
        """Charge beats kind beats currency."""
        return (self.charge is not None, self.kind is not None, self.currency is not None)

    def matches(self, charge: str, kind: LineKind, currency: str) -> bool:
        return (
            (self.charge is None or self.charge == charge)
            and (self.kind is None or self.kind is kind)
            and (self.currency is None or self.currency == currency)
        )


def charge_key(charge_ref: str) -> str:
    """``"pro:calls"`` from a line's charge reference ``"pro@2:calls"`` (any plan version)."""
    plan, _, charge = charge_ref.partition(":")
    return f"{plan.split('@', 1)[0]}:{charge}"


def rule_for(
    rules: Sequence[PostingRule], charge_ref: str, kind: LineKind, currency: str
) -> PostingRule:
    """The rule a line posts by (raises :class:`InvalidField` when none matches)."""
    key = charge_key(charge_ref) if charge_ref else ""
    found = [r for r in rules if r.matches(key, kind, currency)]
    if not found:
        raise InvalidField(
            "erp.posting_rules",
            f"no rule for a {kind.value} line of {key or 'no charge'} in {currency}",
        )
    return max(found, key=lambda r: r.specificity)


def line_kinds(plan: Plan) -> Iterable[tuple[str, LineKind]]:
    """(charge key, line kind) of every line a plan's invoices can carry."""
    for charge in plan.charges:
        key = f"{plan.code}:{charge.key}"
        if charge.model in USAGE_MODELS:
            kinds: tuple[LineKind, ...] = (LineKind.USAGE,)
        else:
            kinds = (LineKind.RECURRING, LineKind.PRORATION)
        for kind in (*kinds, LineKind.ADJUSTMENT, LineKind.CREDIT):
            yield key, kind
    if plan.minimum is not None:
        yield f"{plan.code}:minimum", LineKind.MINIMUM
    if plan.maximum is not None:
        yield f"{plan.code}:maximum", LineKind.CAP
        if any(t.invoice for t in plan.thresholds):  # an interim invoice's cap, deducted
            yield f"{plan.code}:maximum", LineKind.ADJUSTMENT
    yield "", LineKind.DISCOUNT


def check_rules(rules: Sequence[PostingRule], plans: Iterable[Plan]) -> None:
    """Every line any plan can produce must have a rule; raise naming the first that has none."""
    for plan in plans:
        for key, kind in line_kinds(plan):
            try:
                rule_for(rules, key, kind, plan.currency)
            except InvalidField as error:
                raise InvalidField(
                    "erp.posting_rules", f"plan {plan.code!r}: {error.reason}"
                ) from None


@dataclass(frozen=True, slots=True)
class Recognition:
    """Revenue recognised in one calendar month of a service period."""

    month: date  # the first day of the month
    amount: Decimal


def recognition_schedule(amount: Decimal, service: Period, currency: str) -> list[Recognition]:
    """``amount`` spread over the calendar months of ``service`` by day, in whole minor units
    that add up to ``amount`` exactly (largest remainder)."""
    months: list[tuple[date, int]] = []
    day = service.start
    while day < service.end:
        first = day.replace(day=1)
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        end = min(following, service.end)
        months.append((first, (end - day).days))
        day = end
    parts = allocate(amount, [Decimal(days) for _, days in months], currency)
    return [Recognition(month, part) for (month, _), part in zip(months, parts, strict=True)]


def deferred(service: Period) -> bool:
    """Revenue for this service period is recognised over time: it is longer than a month (an
    annual fee billed in advance). A monthly fee is recognised when billed."""
    return (service.end - service.start).days > 31

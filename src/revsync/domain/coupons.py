"""Coupons: a percentage or a fixed amount off, for one, several or every billing period.

A coupon applied to a subscription from a date covers the recurring periods that start on or
after the recurring period containing that date: the first one (``once``), the first
``periods`` of them (``repeating``) or all (``forever``). Percent-off applies to every
invoice of a covered period; amount-off once per covered period, on the advance invoice when
the plan has in-advance fees, else on the arrears invoices of the period, each taking what
the ones before it left (so it is never taken twice; the billing use case counts that).

A coupon may be limited (``applies_to``, :mod:`revsync.domain.scopes`) to plans and meters: it
then discounts only the lines in its scope, and counts only the periods it could apply to —
those with a billable day on a plan it names or on a plan that prices a meter it names — so
a ``once`` coupon limited to a plan the customer moves to later waits for the first period on
that plan. Whether there was usage to discount does not matter: a period that could apply and
had nothing in scope (a meter not used) is still one of its periods.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import Discount
from revsync.domain.money import is_currency, plain
from revsync.domain.periods import Period
from revsync.domain.pricing import USAGE_MODELS, Plan, exact_decimal
from revsync.domain.scopes import EVERYTHING, Scope, scope_from_data, scope_to_data
from revsync.domain.subscriptions import Subscription

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Duration(StrEnum):
    """How many billing periods a coupon covers."""

    ONCE = "once"
    REPEATING = "repeating"
    FOREVER = "forever"


@dataclass(frozen=True, slots=True)
class Coupon:
    """A discount definition."""

    code: str
    description: str
    duration: Duration
    percent_off: Decimal | None = None
    amount_off: Decimal | None = None
    currency: str | None = None
    periods: int | None = None
    applies_to: Scope = EVERYTHING


def new_coupon(
    *,
    code: str,
    description: str,
    duration: Duration,
    percent_off: Decimal | None = None,
    amount_off: Decimal | None = None,
    currency: str | None = None,
    periods: int | None = None,
    applies_to: Scope = EVERYTHING,
) -> Coupon:
    """Validate a coupon; errors name the field."""
    if not _CODE.match(code):
        raise InvalidField("code", "must be 1-64 letters, digits and '_.-'")
    if (percent_off is None) == (amount_off is None):
        raise InvalidField("percent_off", "give exactly one of percent_off and amount_off")
    if percent_off is not None and not Decimal(0) < percent_off <= Decimal(100):
        raise InvalidField("percent_off", "must be more than 0 and at most 100")
    if amount_off is not None:
        if amount_off <= 0:
            raise InvalidField("amount_off", "must be positive")
        if currency is None or not is_currency(currency):
            raise InvalidField("currency", "an ISO 4217 currency is required with amount_off")
    if duration is Duration.REPEATING and (periods is None or periods < 1):
        raise InvalidField("periods", "a repeating coupon needs periods ≥ 1")
    if duration is not Duration.REPEATING and periods is not None:
        raise InvalidField("periods", f"only for repeating coupons, not {duration.value}")
    text = description.strip() or _default_description(percent_off, amount_off, currency, code)
    return Coupon(code, text, duration, percent_off, amount_off, currency, periods, applies_to)


def _default_description(
    percent: Decimal | None, amount: Decimal | None, currency: str | None, code: str
) -> str:
    if percent is not None:
        return f"Discount {plain(percent)}% ({code})"
    return f"Discount {plain(amount or Decimal(0))} {currency} ({code})"


def covers(
    coupon: Coupon,
    applied_on: date,
    sub: Subscription,
    period_start: date,
    could_apply: Callable[[Period], bool] | None = None,
) -> bool:
    """True when a period starting on ``period_start`` is covered by the coupon, counting the
    subscription's recurring periods (across its calendars) from the one it was applied in.

    ``could_apply`` tells whether the coupon could apply in a recurring period; a limited
    ``once`` or ``repeating`` coupon counts only those periods (an unlimited one, or one
    asked without it, counts every period from the one it was applied in)."""
    period = sub.recurring_period_on(applied_on)
    if period_start < period.start:
        return False
    if coupon.duration is Duration.FOREVER:
        return True
    count = 1 if coupon.duration is Duration.ONCE else coupon.periods or 1
    if could_apply is None or not coupon.applies_to.limited:
        for _ in range(count - 1):
            period = sub.recurring_period_on(sub.service_end(period))
        return period_start < sub.service_end(period)
    used = 0
    while used < count:
        eligible = could_apply(period)
        if period_start < sub.service_end(period):  # the period the invoice is in
            return eligible
        used += 1 if eligible else 0
        period = sub.recurring_period_on(sub.service_end(period))
    return False


def could_apply(
    scope: Scope, sub: Subscription, period: Period, plans: Callable[[str, int], Plan]
) -> bool:
    """True when a coupon limited to ``scope`` could discount something of ``sub`` in the
    recurring ``period``: on one of its billable days the subscription is on a plan the scope
    names, or on a plan with a usage charge of a meter it names."""
    for segment in sub.segments(period):
        if not segment.billable:
            continue
        if segment.terms.plan_code in scope.plans:
            return True
        if scope.meters and any(
            charge.model in USAGE_MODELS and charge.meter in scope.meters
            for charge in plans(*segment.terms.plan).charges
        ):
            return True
    return False


def as_discount(coupon: Coupon, invoice_currency: str) -> Discount | None:
    """The coupon as a discount on an invoice in ``invoice_currency`` (``None`` when an
    amount-off coupon is in another currency)."""
    scope = coupon.applies_to
    if coupon.percent_off is not None:
        return Discount(coupon.code, coupon.description, percent=coupon.percent_off, scope=scope)
    if coupon.currency != invoice_currency:
        return None
    return Discount(coupon.code, coupon.description, amount=coupon.amount_off, scope=scope)


_FIELDS = (
    "code",
    "description",
    "duration",
    "percent_off",
    "amount_off",
    "currency",
    "periods",
    "applies_to",
)


def coupon_from_data(data: Mapping[str, Any]) -> Coupon:
    """A coupon from plain data (config, API, storage); decimals as strings, ints or Decimals."""
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise InvalidField(unknown[0], "unknown field")
    try:
        duration = Duration(data.get("duration", "once"))
    except ValueError:
        raise InvalidField("duration", "must be once, repeating or forever") from None
    periods = data.get("periods")
    if periods is not None and (not isinstance(periods, int) or isinstance(periods, bool)):
        raise InvalidField("periods", "must be a whole number")
    if periods is not None and not 1 <= periods <= 1200:
        raise InvalidField("periods", "must be between 1 and 1200")
    currency = data.get("currency")
    if currency is not None and not isinstance(currency, str):
        raise InvalidField("currency", "expected an ISO 4217 currency code (a string)")
    for name in ("code", "description"):
        if not isinstance(data.get(name, ""), str):
            raise InvalidField(name, "expected a string")
    return new_coupon(
        code=str(data.get("code", "")),
        description=str(data.get("description", "")),
        duration=duration,
        percent_off=_decimal(data.get("percent_off"), "percent_off"),
        amount_off=_decimal(data.get("amount_off"), "amount_off"),
        currency=currency,
        periods=periods,
        applies_to=scope_from_data(data.get("applies_to")),
    )


def coupon_to_data(coupon: Coupon) -> dict[str, Any]:
    """The inverse of :func:`coupon_from_data` (decimals as strings, unset fields left out)."""
    data: dict[str, Any] = {
        "code": coupon.code,
        "description": coupon.description,
        "duration": coupon.duration.value,
    }
    for name in ("percent_off", "amount_off", "currency", "periods"):
        value = getattr(coupon, name)
        if value is not None:
            data[name] = plain(value) if isinstance(value, Decimal) else value
    scope = scope_to_data(coupon.applies_to)
    if scope is not None:
        data["applies_to"] = scope
    return data


def _decimal(value: object, field: str) -> Decimal | None:
    return None if value is None else exact_decimal(value, field)

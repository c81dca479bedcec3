"""Currencies, their minor units (ISO 4217) and the rounding of amounts.

Money is always ``decimal.Decimal``. Rating produces exact amounts; each invoice line is
rounded once, to the currency's minor unit, with a named rule (default half-even); totals are
sums of rounded lines.
"""

from __future__ import annotations

from decimal import (
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
)
from enum import StrEnum
from types import MappingProxyType

_TWO_DECIMALS = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR "
    "FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW "
    "KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN "
    "NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD "
    "SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU "
    "UZS VED VES WST XCD YER ZAR ZMW ZWG ZWL"
)
_ZERO_DECIMALS = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE_DECIMALS = "BHD IQD JOD KWD LYD OMR TND"
_FOUR_DECIMALS = "CLF UYW"

MINOR_UNITS: MappingProxyType[str, int] = MappingProxyType(
    {
        **dict.fromkeys(_TWO_DECIMALS.split(), 2),
        **dict.fromkeys(_ZERO_DECIMALS.split(), 0),
        **dict.fromkeys(_THREE_DECIMALS.split(), 3),
        **dict.fromkeys(_FOUR_DECIMALS.split(), 4),
    }
)


#: arithmetic context for money: wide enough that nothing rounds before the rule does
_MONEY = Context(prec=60)


def plain(value: Decimal) -> str:
    """A decimal in plain notation, never scientific: ``Decimal("1E-7")`` → ``"0.0000001"``."""
    return format(value, "f")


def is_currency(code: str) -> bool:
    """True for an active ISO 4217 code with minor units, e.g. ``EUR``."""
    return code in MINOR_UNITS


def minor_units(code: str) -> int:
    """Number of decimal places of the currency's minor unit (``JPY`` → 0, ``KWD`` → 3)."""
    try:
        return MINOR_UNITS[code]
    except KeyError:
        raise ValueError(f"unknown currency {code!r} (expected an ISO 4217 code)") from None


class Rounding(StrEnum):
    """Named rounding rules, applied once per invoice line (promise 6)."""

    HALF_EVEN = "half_even"
    HALF_UP = "half_up"
    HALF_DOWN = "half_down"
    DOWN = "down"
    UP = "up"

    @property
    def decimal_mode(self) -> str:
        """The ``decimal`` module's name for the rule."""
        return _DECIMAL_MODES[self.value]


_DECIMAL_MODES = {
    Rounding.HALF_EVEN.value: ROUND_HALF_EVEN,
    Rounding.HALF_UP.value: ROUND_HALF_UP,
    Rounding.HALF_DOWN.value: ROUND_HALF_DOWN,
    Rounding.DOWN.value: ROUND_DOWN,
    Rounding.UP.value: ROUND_UP,
}


def quantum(currency: str) -> Decimal:
    """The smallest amount of the currency: ``Decimal("0.01")`` for EUR, ``1`` for JPY."""
    found = _QUANTA.get(currency)
    if found is None:
        found = _QUANTA[currency] = Decimal(1).scaleb(-minor_units(currency))
    return found


_QUANTA: dict[str, Decimal] = {}


def round_money(amount: Decimal, currency: str, rule: Rounding) -> Decimal:
    """``amount`` rounded to the currency's minor unit with ``rule``."""
    return amount.quantize(quantum(currency), rounding=rule.decimal_mode, context=_MONEY)


def allocate(total: Decimal, weights: list[Decimal], currency: str) -> list[Decimal]:
    """Split ``total`` (already in minor units) in proportion to ``weights``, largest remainder
    first, so that the parts are whole minor units and add up to ``total`` exactly."""
    unit = quantum(currency)
    weight_sum = sum(weights, Decimal(0))
    if not weights or weight_sum == 0:
        return [Decimal(0) * unit for _ in weights]
    units = int((total / unit).to_integral_value(context=_MONEY))
    exact = [Decimal(units) * w / weight_sum for w in weights]
    floors = [int(e.to_integral_value(rounding=ROUND_FLOOR)) for e in exact]
    remainder = units - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:remainder]:
        floors[i] += 1
    return [Decimal(f) * unit for f in floors]

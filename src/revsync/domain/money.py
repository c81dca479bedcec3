"""Currencies and their minor units (ISO 4217).

Money is always ``decimal.Decimal``; the number of minor units of a currency decides how
an amount is rounded (see the pricing issue for the rounding rule).
"""

from __future__ import annotations

from decimal import Decimal
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

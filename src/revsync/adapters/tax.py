"""The built-in tax engine: a table of rates by country and tax code, from the config.

An external tax engine can take its place behind the same port
(:class:`revsync.ports.billing.TaxEngine`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from decimal import Decimal

from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import TaxRates

#: no tax table configured: invoices carry no tax lines at all
NO_TAX = TaxRates(exempt=True)


class TableTaxEngine:
    """Rates in percent by country and tax code. An empty table means no tax at all."""

    def __init__(self, table: Mapping[str, Mapping[str, Decimal]]) -> None:
        self._table = {country: dict(codes) for country, codes in table.items()}

    def rates(
        self, *, country: str | None, exempt: bool, codes: Collection[str], on: date
    ) -> TaxRates:
        if exempt:
            return TaxRates(exempt=True)
        if not self._table:
            return NO_TAX
        if country is None:
            raise InvalidField(
                "country", "the customer has no country, and tax rates are configured"
            )
        known = self._table.get(country)
        if known is None:
            raise InvalidField("country", f"no tax rates configured for {country}")
        missing = sorted(set(codes) - set(known))
        if missing:
            raise InvalidField("tax_code", f"no tax rate for {country} / {', '.join(missing)}")
        return TaxRates({code: known[code] for code in codes})

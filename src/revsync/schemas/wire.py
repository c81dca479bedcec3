"""JSON on the wire: money and quantities travel as plain decimal strings (promise 6)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from revsync.domain.money import plain


def plain_decimals(value: Any) -> Any:
    """``value`` with every ``Decimal`` written as a plain decimal string (``"20.00"``,
    ``"1"``), in dicts, lists and tuples at any depth."""
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, dict):
        return {k: plain_decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_decimals(v) for v in value]
    return value

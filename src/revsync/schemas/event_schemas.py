"""Event schemas on the wire: JSON read with exact numbers and written canonically.

A registered schema, its upcast field map and upcast event data are kept as canonical JSON
(sorted keys, numbers as written), so that the same schema put twice compares equal and an
upcast event's data is stored in the form every other event's data is.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

_exact = msgspec.json.Decoder(float_hook=Decimal)
_canonical = msgspec.json.Encoder(order="sorted", decimal_format="number")


def canonical_text(value: Any) -> str:
    """``value`` as canonical JSON text (sorted keys, decimals as JSON numbers)."""
    return _canonical.encode(value).decode()


def read_exact(text: str | bytes) -> Any:
    """JSON text back to values, numbers with a fraction or exponent as ``Decimal``."""
    return _exact.decode(text)

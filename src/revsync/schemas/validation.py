"""The validator's findings (request bodies, query parameters, configuration) in revsync's
own words.

Pydantic reports each problem with a stable ``type`` and its parameters (``ctx``); its
English ``msg`` is left out, so that a new release of the validator cannot change what a
client or an operator reads. A type not listed here reads "invalid value".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

_Reason = Callable[[Mapping[str, Any]], str]


def _fixed(text: str) -> _Reason:
    return lambda _ctx: text


_INTEGER = _fixed("expected an integer")
_NUMBER = _fixed("expected a number")
_BOOLEAN = _fixed("expected true or false")
_OBJECT = _fixed("expected an object")
_LIST = _fixed("expected a list")
_DATE = _fixed("expected a date (YYYY-MM-DD)")
_DATETIME = _fixed("expected a date and time (RFC 3339, e.g. 2026-05-01T12:00:00Z)")
_URL = _fixed("expected a URL")

_REASONS: Mapping[str, _Reason] = {
    "missing": _fixed("required"),
    "extra_forbidden": _fixed("unknown field"),
    "string_type": _fixed("expected a string"),
    "string_unicode": _fixed("expected a string"),
    "string_too_short": lambda ctx: f"at least {ctx.get('min_length')} characters",
    "string_too_long": lambda ctx: f"at most {ctx.get('max_length')} characters",
    "string_pattern_mismatch": lambda ctx: f"must match {ctx.get('pattern')}",
    "too_short": lambda ctx: f"at least {ctx.get('min_length')} items",
    "too_long": lambda ctx: f"at most {ctx.get('max_length')} items",
    "int_type": _INTEGER,
    "int_parsing": _INTEGER,
    "int_parsing_size": _fixed("integer out of range"),
    "int_from_float": _INTEGER,
    "float_type": _NUMBER,
    "float_parsing": _NUMBER,
    "finite_number": _fixed("expected a finite number"),
    "decimal_type": _fixed("expected a decimal number"),
    "decimal_parsing": _fixed("expected a decimal number"),
    "decimal_max_digits": lambda ctx: f"at most {ctx.get('max_digits')} digits",
    "decimal_max_places": lambda ctx: f"at most {ctx.get('decimal_places')} decimal places",
    "decimal_whole_digits": lambda ctx: (
        f"at most {ctx.get('whole_digits')} digits before the point"
    ),
    "bool_type": _BOOLEAN,
    "bool_parsing": _BOOLEAN,
    "greater_than": lambda ctx: f"must be greater than {ctx.get('gt')}",
    "greater_than_equal": lambda ctx: f"must be at least {ctx.get('ge')}",
    "less_than": lambda ctx: f"must be less than {ctx.get('lt')}",
    "less_than_equal": lambda ctx: f"must be at most {ctx.get('le')}",
    "literal_error": lambda ctx: f"must be one of {ctx.get('expected')}",
    "enum": lambda ctx: f"must be one of {ctx.get('expected')}",
    "dict_type": _OBJECT,
    "model_type": _OBJECT,
    "model_attributes_type": _OBJECT,
    "mapping_type": _OBJECT,
    "list_type": _LIST,
    "tuple_type": _LIST,
    "set_type": _LIST,
    "date_type": _DATE,
    "date_parsing": _DATE,
    "date_from_datetime_parsing": _DATE,
    "date_from_datetime_inexact": _DATE,
    "datetime_type": _DATETIME,
    "datetime_parsing": _DATETIME,
    "datetime_from_date_parsing": _DATETIME,
    "timezone_aware": _fixed("must carry a UTC offset, e.g. 2026-05-01T12:00:00Z"),
    "timezone_naive": _fixed("must not carry a UTC offset"),
    "url_type": _URL,
    "url_parsing": _URL,
    "url_syntax_violation": _URL,
    "url_scheme": lambda ctx: f"expected a URL with scheme {ctx.get('expected_schemes')}",
    "json_invalid": _fixed("malformed JSON"),
    "json_type": _fixed("expected JSON"),
    "value_error": lambda ctx: str(ctx.get("error", "invalid value")),
    "assertion_error": lambda ctx: str(ctx.get("error", "invalid value")),
}


def reason(problem: Mapping[str, Any]) -> str:
    """A validator problem (one item of ``ValidationError.errors()``) as revsync says it."""
    describe = _REASONS.get(str(problem.get("type")))
    if describe is None:
        return "invalid value"
    return describe(problem.get("ctx") or {})

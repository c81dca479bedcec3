"""Why an input was refused: a stable code and a message in revsync's own words.

Codes are part of the API (docs/api.md lists them) and never change meaning; messages name
the field first (``field: reason``) and may grow clearer. Neither carries the wording of a
library (a JSON decoder, a validator), so upgrading one cannot change what clients read.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Code(StrEnum):
    """The reasons an event, a file line or a request body is refused."""

    MALFORMED_JSON = "malformed_json"
    INVALID_UTF8 = "invalid_utf8"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    EMPTY_FIELD = "empty_field"
    TOO_LONG = "too_long"
    TOO_DEEP = "too_deep"
    INVALID_TIME = "invalid_time"
    TIME_OUT_OF_RANGE = "time_out_of_range"
    UNSUPPORTED_SPECVERSION = "unsupported_specversion"
    UNSUPPORTED_DATA = "unsupported_data"
    INVALID_VALUE = "invalid_value"
    METER_VALUE = "meter_value"
    CONFLICT = "conflict"
    EXTRA_CELLS = "extra_cells"
    INVALID_EVENT = "invalid_event"
    INVALID_ATTRIBUTE_NAME = "invalid_attribute_name"
    AMBIGUOUS_DATA = "ambiguous_data"
    CRM_RECORD = "crm_record"
    FORBIDDEN_CUSTOMER = "forbidden_customer"
    RATE_LIMITED = "rate_limited"
    QUOTA_EXCEEDED = "quota_exceeded"
    SCHEMA_VIOLATION = "schema_violation"
    UNKNOWN_SCHEMA = "unknown_schema"
    UNKNOWN_TYPE = "unknown_type"
    QUARANTINED = "quarantined"


class Problem(NamedTuple):
    """A refusal: its :class:`Code` and a message such as ``time: not an RFC 3339 timestamp``."""

    code: Code
    message: str


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type (``object``, ``array``, ``string``…)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, float):
        return "binary float"  # never from the wire, where numbers are exact decimals
    return "number"

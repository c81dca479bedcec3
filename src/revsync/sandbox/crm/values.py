"""Field values as Salesforce writes them: datetimes ``2026-05-20T20:49:32.000+0000``, dates
``2026-05-20``, and the checks a write goes through for each field type."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from revsync.sandbox.crm.errors import ApiError
from revsync.sandbox.crm.ids import to18

if TYPE_CHECKING:
    from revsync.sandbox.crm.schema import FieldDef

#: the types holding text, compared case-insensitively in SOQL
TEXT_TYPES = frozenset({"string", "textarea", "picklist", "url", "email", "phone"})
#: the types holding a record id
ID_TYPES = frozenset({"id", "reference"})
#: the numeric types (int kept whole, the others as doubles)
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})


def format_datetime(moment: datetime) -> str:
    """``2026-05-20T20:49:32.000+0000`` (UTC, milliseconds)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def parse_datetime(text: str) -> datetime | None:
    """An aware datetime from an ISO 8601 string (naive means UTC); None when unreadable."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def parse_date(text: str) -> date | None:
    """A date from ``YYYY-MM-DD``; None when unreadable."""
    if len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _type_error(field: FieldDef, value: Any) -> ApiError:
    kind = "VALUE_STRING" if isinstance(value, str) else type(value).__name__.upper()
    return ApiError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {field.type} from {kind} value {value!r} "
        f"or request may be missing a required field: {field.name}",
        [field.name],
    )


def _text(field: FieldDef, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _type_error(field, value)
    text = value if isinstance(value, str) else str(value)
    if text == "":
        return None
    if field.length and len(text) > field.length:
        raise ApiError(
            400,
            "STRING_TOO_LONG",
            f"{field.label}: data value too large: {text[:40]} (max length={field.length})",
            [field.name],
        )
    if field.restricted and text not in field.picklist:
        raise ApiError(
            400,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{field.label}: bad value for restricted picklist field: {text}",
            [field.name],
        )
    return text


def _number(field: FieldDef, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _type_error(field, value)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _type_error(field, value) from None
    if not number.is_finite():
        raise _type_error(field, value)
    if field.type == "int":
        if number != number.to_integral_value():
            raise _type_error(field, value)
        return int(number)
    result = float(number)
    if not math.isfinite(result):
        raise _type_error(field, value)
    return result


def _reference(field: FieldDef, value: Any) -> str:
    normal = to18(value) if isinstance(value, str) else None
    if normal is None:
        raise ApiError(
            400,
            "MALFORMED_ID",
            f"{field.label}: id value of incorrect type: {value}",
            [field.name],
        )
    return normal


def coerce(field: FieldDef, value: Any) -> Any:
    """The stored form of ``value`` for ``field`` (None clears it); ApiError when it does
    not fit the field's type."""
    if value is None:
        return None
    if field.type in TEXT_TYPES:
        return _text(field, value)
    if field.type in NUMBER_TYPES:
        return _number(field, value)
    if field.type == "boolean":
        if not isinstance(value, bool):
            raise _type_error(field, value)
        return value
    if field.type in ID_TYPES:
        return _reference(field, value)
    if field.type == "date":
        if not isinstance(value, str) or parse_date(value) is None:
            raise _type_error(field, value)
        return value
    if field.type == "datetime":
        moment = parse_datetime(value) if isinstance(value, str) else None
        if moment is None:
            raise _type_error(field, value)
        return format_datetime(moment)
    raise _type_error(field, value)

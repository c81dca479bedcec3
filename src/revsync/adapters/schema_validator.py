"""Registered schemas compiled into checks of an event's data, with jsonschema-rs.

jsonschema-rs (Rust) validates the decoded data as it is, numbers as exact ``Decimal``: a
limit of ``10.5`` refuses ``10.50000000000000000001``. It runs offline (a ``$ref`` that is not
in the document fails to compile; revsync refuses those before this point anyway) and its
``pattern`` uses a regular-expression engine that runs in linear time, so no registered
pattern can stall ingestion. docs/governance.md has the measurement that chose it.

A refusal is worded here from the error's path and keyword, never from the library's text:
``data/units: must be a number``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import jsonschema_rs

from revsync.domain.errors import InvalidField
from revsync.domain.problems import Code, Problem
from revsync.ports.schemas import DataCheck

_TYPE_NAMES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "null": "null",
}


def compile_schema(schema: Mapping[str, Any] | bool) -> DataCheck:
    """A check of data against ``schema`` (``InvalidField`` when it does not compile)."""
    try:
        validator = jsonschema_rs.validator_for(
            schema if isinstance(schema, bool) else dict(schema),
            offline=True,
            pattern_options=jsonschema_rs.RegexOptions(),
        )
    except jsonschema_rs.ValidationError as error:
        where = ".".join(["schema", *map(str, error.instance_path)])
        raise InvalidField(
            where, f"not valid under the JSON Schema meta-schema (its '{error.kind.name}' rule)"
        ) from None
    except (ValueError, TypeError, OverflowError):
        raise InvalidField(
            "schema", "cannot be compiled: a '$ref' or a regular expression is not usable"
        ) from None
    is_valid = validator.is_valid
    errors = validator.iter_errors

    def check(data: Mapping[str, Any]) -> Problem | None:
        if is_valid(data):
            return None
        for error in errors(data):
            return Problem(Code.SCHEMA_VIOLATION, _reason(error))
        return Problem(Code.SCHEMA_VIOLATION, "data: does not match its schema")

    return check


def _reason(error: jsonschema_rs.ValidationError) -> str:
    """``data/<pointer>: <what is wrong>``, in revsync's words."""
    path = list(error.instance_path)
    kind = error.kind
    name = kind.name
    detail: Any = getattr(kind, "value", None)
    if name == "required":
        path.append(str(getattr(kind, "property", detail)))
        return f"{_pointer(path)}: required"
    if name == "additionalProperties":
        unexpected = list(getattr(kind, "unexpected", None) or [])
        if unexpected:
            path.append(str(unexpected[0]))
        return f"{_pointer(path)}: not allowed (the schema names the fields this object may have)"
    return f"{_pointer(path)}: {_what(name, detail)}"


def _what(keyword: str, detail: Any) -> str:
    if keyword == "type":
        names = detail if isinstance(detail, list) else [detail]
        return "must be " + " or ".join(_TYPE_NAMES.get(str(n), str(n)) for n in names)
    if keyword in ("enum", "const"):
        options = detail if isinstance(detail, list) and keyword == "enum" else [detail]
        shown = ", ".join(_show(o) for o in options[:10])
        return f"must be one of {shown}" if keyword == "enum" else f"must be {shown}"
    words = {
        "minimum": "must be at least {}",
        "maximum": "must be at most {}",
        "exclusiveMinimum": "must be greater than {}",
        "exclusiveMaximum": "must be less than {}",
        "minLength": "must be at least {} characters long",
        "maxLength": "must be at most {} characters long",
        "minItems": "must have at least {} items",
        "maxItems": "must have at most {} items",
        "minProperties": "must have at least {} fields",
        "maxProperties": "must have at most {} fields",
        "multipleOf": "must be a multiple of {}",
    }
    if keyword in words and not isinstance(detail, dict | list):
        return words[keyword].format(_show(detail))
    return f"breaks the schema's '{keyword}' rule"


def _pointer(path: list[Any]) -> str:
    """A JSON pointer (RFC 6901) under ``data``: ``data/items/0/units``."""
    return "/".join(["data", *(str(p).replace("~", "~0").replace("/", "~1") for p in path)])


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"' if len(value) <= 64 else f'"{value[:61]}..."'
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value) if isinstance(value, int | float | bool) or value is None else "a value"

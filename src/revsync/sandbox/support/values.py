"""Checks of the values a request carries (types, lengths, choices) and the wire's time format;
each refusal is a 422 RecordInvalid naming the field, as Zendesk's."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from revsync.sandbox.support.errors import invalid

MAX_NAME = 255
MAX_TEXT = 65_535
MAX_TAG = 80
MAX_TAGS = 500
MAX_ID = 2**63 - 1


def format_time(moment: datetime) -> str:
    """``2026-12-04T10:00:00Z``: UTC, whole seconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_unix(seconds: int) -> datetime:
    """A UTC datetime from unix seconds."""
    return datetime.fromtimestamp(seconds, UTC)


def label(field: str) -> str:
    """``organization_id`` → ``Organization``, as Zendesk names fields in its messages."""
    words = field.removesuffix("_id").replace("_", " ")
    return words[:1].upper() + words[1:]


def text(
    payload: Mapping[str, Any],
    field: str,
    *,
    limit: int = MAX_NAME,
    required: bool = False,
) -> str | None:
    """A string member (None when absent or null, unless ``required``)."""
    value = payload.get(field)
    if value is None or (required and isinstance(value, str) and not value.strip()):
        if required:
            raise invalid(field, f"{label(field)}: cannot be blank", "BlankValue")
        return None
    if not isinstance(value, str):
        raise invalid(field, f"{label(field)}: is not a string")
    if len(value) > limit:
        raise invalid(field, f"{label(field)}: is too long (maximum is {limit} characters)")
    return value


def flag(payload: Mapping[str, Any], field: str) -> bool | None:
    """A boolean member (None when absent)."""
    value = payload.get(field)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid(field, f"{label(field)}: is not true or false")
    return value


def reference(value: Any, field: str) -> int | None:
    """An id (int, or a string of digits); None for null."""
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise invalid(field, f"{label(field)}: is not a valid id")
    return value


def choice(payload: Mapping[str, Any], field: str, allowed: Iterable[str]) -> str | None:
    """One of ``allowed`` (None for null or absent)."""
    value = payload.get(field)
    if value is None:
        return None
    options = tuple(allowed)
    if not isinstance(value, str) or value not in options:
        raise invalid(field, f"{label(field)}: is not one of {', '.join(options)}")
    return value


def tags(value: Any, field: str = "tags") -> list[str]:
    """Tags as Zendesk keeps them: lower case, split on spaces, no duplicates, in order."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise invalid(field, f"{label(field)}: is not a list of strings")
    found: list[str] = []
    for item in value:
        for tag in item.lower().split():
            if len(tag) > MAX_TAG:
                raise invalid(field, f"{label(field)}: {tag[:20]}… is too long")
            if tag not in found:
                found.append(tag)
    if len(found) > MAX_TAGS:
        raise invalid(field, f"{label(field)}: too many tags (maximum is {MAX_TAGS})")
    return found


def string_list(value: Any, field: str) -> list[str]:
    """A list of short strings (domain names)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(v, str) and 0 < len(v) <= MAX_NAME for v in value
    ):
        raise invalid(field, f"{label(field)}: is not a list of strings")
    if len(value) > MAX_TAGS:
        raise invalid(field, f"{label(field)}: has too many entries")
    return list(dict.fromkeys(v.lower() for v in value))


def free_dict(value: Any, field: str) -> dict[str, Any]:
    """A flat object of scalars (organization_fields, user_fields)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_TAGS:
        raise invalid(field, f"{label(field)}: is not an object of values")
    for key, item in value.items():
        scalar = item is None or isinstance(item, str | int | float | bool)
        if len(key) > MAX_NAME or not scalar or (isinstance(item, str) and len(item) > MAX_TEXT):
            raise invalid(field, f"{label(field)}: {key[:40]} is not a plain value")
    return dict(value)

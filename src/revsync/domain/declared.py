"""Lists of keyed declarations read from JSON-like data (a plan's features, thresholds): the
list, each object's known fields, its key and kind, and decimal values — refusals name the
field (``features.2.kind``) and say why."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Final, Protocol, TypeVar

from revsync.domain.errors import InvalidField

#: the key of a declaration
KEY: Final = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...


T = TypeVar("T", bound=_Keyed)
E = TypeVar("E", bound=StrEnum)


def declared_list(
    raw: object, field: str, noun: str, kind: type[T], read: Callable[[object, str], T]
) -> tuple[T, ...]:
    """The items of a list (``None``: none), each a ``kind`` already or read by ``read`` from
    its object at ``<field>.<index>``; keys must be unique."""
    if raw is None:
        return ()
    if isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
        raise InvalidField(field, f"expected a list of {noun}s")
    found: list[T] = []
    keys: set[str] = set()  # a set, not a scan of the list: a 1 MiB body holds ~25,000 items
    for index, item in enumerate(raw):
        path = f"{field}.{index}"
        declared = item if isinstance(item, kind) else read(item, path)
        if declared.key in keys:
            raise InvalidField(f"{path}.key", f"duplicate {noun} {declared.key!r}")
        keys.add(declared.key)
        found.append(declared)
    return tuple(found)


def declared_object(
    item: object, path: str, fields: frozenset[str], kinds: type[E]
) -> tuple[Mapping[str, Any], str, E]:
    """An object with only ``fields``, its ``key`` and its ``kind`` (one of ``kinds``)."""
    if not isinstance(item, Mapping):
        raise InvalidField(path, "expected an object")
    unknown = sorted(set(item) - fields)
    if unknown:
        raise InvalidField(f"{path}.{unknown[0]}", "unknown field")
    key = item.get("key")
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise InvalidField(f"{path}.key", f"{key!r} does not match {KEY.pattern}")
    try:
        kind = kinds(str(item.get("kind")))
    except ValueError:
        known = ", ".join(k.value for k in kinds)
        raise InvalidField(f"{path}.kind", f"expected one of {known}") from None
    return item, key, kind


def declared_decimal(value: Any, path: str) -> Decimal:
    """A decimal from a decimal string or an integer (floats are inexact: refused); the caller
    checks its range (NaN and infinities included)."""
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise InvalidField(path, "expected a decimal string or an integer")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise InvalidField(path, f"{value!r} is not a decimal number") from None
    return number

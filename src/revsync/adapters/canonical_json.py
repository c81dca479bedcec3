"""Canonical JSON (RFC 8785, JSON Canonicalization Scheme) by the ``rfc8785`` package.

The standard library's C encoder writes the same bytes for the JSON the audit chain mostly
holds — strings, safe integers, booleans, nulls, lists and objects with ASCII keys: RFC 8785
escapes strings as it does (``\\"``, ``\\\\``, the short escapes, ``\\u00xx`` for other
control characters, nothing else) and orders ASCII keys as it does. Such data takes that
path; anything else (floats, non-ASCII keys, which RFC 8785 orders by UTF-16 code units,
subclasses of the plain types) is written by ``rfc8785``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import rfc8785

#: the integers RFC 8785 allows: exact in an IEEE 754 double
_SAFE = 2**53 - 1
_encode = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
).encode


def jcs(value: Any) -> bytes:
    """The RFC 8785 form of plain JSON data (strings, safe integers, finite floats, booleans,
    None, lists and dicts with string keys); raises ``ValueError`` for anything else."""
    if type(value) is str:
        return _string(value)
    if _plain(value):
        try:
            return _encode(value).encode()
        except UnicodeEncodeError:
            pass  # a lone surrogate: refused below, as RFC 8785 refuses it
    return rfc8785.dumps(value)


def _plain(value: Any) -> bool:
    """Whether the standard encoder writes ``value`` exactly as RFC 8785 does."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_SAFE <= value <= _SAFE)
    if kind is dict:
        return all(
            type(key) is str and key.isascii() and _plain(item) for key, item in value.items()
        )
    if kind is list or kind is tuple:
        return all(_plain(item) for item in value)
    return False


@lru_cache(maxsize=4096)
def _string(value: str) -> bytes:
    """A string's form, remembered: audit records repeat their actors, actions and types."""
    return rfc8785.dumps(value)

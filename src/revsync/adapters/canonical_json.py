"""Canonical JSON (RFC 8785, JSON Canonicalization Scheme) by the ``rfc8785`` package."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import rfc8785


def jcs(value: Any) -> bytes:
    """The RFC 8785 form of plain JSON data (strings, safe integers, finite floats, booleans,
    None, lists and dicts with string keys); raises ``ValueError`` for anything else."""
    if type(value) is str:
        return _string(value)
    return rfc8785.dumps(value)


@lru_cache(maxsize=4096)
def _string(value: str) -> bytes:
    """A string's form, remembered: audit records repeat their actors, actions and types."""
    return rfc8785.dumps(value)

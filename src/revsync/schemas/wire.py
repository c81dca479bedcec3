"""JSON on the wire: money and quantities travel as plain decimal strings (promise 6)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from revsync.domain.money import plain
from revsync.domain.problems import Code, Problem


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


def json_problem(raw: bytes, where: str) -> Problem:
    """Why ``raw``, which a JSON decoder refused, is not JSON: invalid UTF-8 (with the byte)
    or malformed JSON (with the line and column), in revsync's words, under ``where``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return Problem(Code.INVALID_UTF8, f"{where}: invalid UTF-8 at byte {error.start}")
    try:
        json.loads(text)  # only to locate the fault for the message
    except json.JSONDecodeError as error:
        return Problem(
            Code.MALFORMED_JSON,
            f"{where}: malformed JSON at line {error.lineno}, column {error.colno}",
        )
    except (ValueError, RecursionError):
        pass
    return Problem(Code.MALFORMED_JSON, f"{where}: malformed JSON")

"""Canonical JSON: the fast path writes exactly what ``rfc8785`` writes, or refuses alike."""

from __future__ import annotations

import enum
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from revsync.adapters.canonical_json import jcs

# keys and strings that stress escaping and ordering: controls, quotes, backslashes, DEL,
# U+2028, the top of the BMP (which UTF-16 orders after astral characters) and astral ones
characters = st.sampled_from(
    ["a", "B", "é", "\x00", "\x1f", "\x7f", '"', "\\", "\n", "\u2028", "\uffff", "\U0001f600"]
)
strings = st.one_of(st.text(max_size=8), st.lists(characters, max_size=6).map("".join))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53) + 1, 2**53 - 1),
    st.integers(min_value=2**53 - 2, max_value=2**64),  # around and past the safe range
    st.floats(allow_nan=False, allow_infinity=False),
    strings,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(strings, inner, max_size=4),
    ),
    max_leaves=20,
)


def reference(value: Any) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(value)
    except ValueError as error:
        return type(error)


@settings(max_examples=500)
@given(value=values)
def test_the_same_bytes_as_rfc8785(value: Any) -> None:
    expected = reference(value)
    if isinstance(expected, bytes):
        assert jcs(value) == expected
    else:
        with pytest.raises(ValueError):
            jcs(value)


class Kind(enum.StrEnum):
    INVOICE = "invoice"


@pytest.mark.parametrize(
    "value",
    [
        {"\uffff": 1, "\U0001f600": 2},  # UTF-16 puts the astral key first, code points last
        {"b": [1, 2.5, {"a": 1e21}], "a": 1e-7},  # floats written as ECMAScript writes them
        {"kind": Kind.INVOICE, "n": 2**53 - 1},
        ("a", None, True),
        {"z": "\x00\x7f\u2028", "A": "", "": "é"},
    ],
)
def test_what_the_fast_path_leaves_to_rfc8785_is_written_as_it_writes_it(value: Any) -> None:
    assert jcs(value) == rfc8785.dumps(value)


@pytest.mark.parametrize("value", [{"n": 2**53}, {"s": "\ud800"}, [float("nan")], {1: "a"}])
def test_what_rfc8785_refuses_is_refused(value: Any) -> None:
    with pytest.raises(ValueError):
        jcs(value)

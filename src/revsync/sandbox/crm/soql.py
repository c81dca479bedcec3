"""A SOQL subset, parsed into a small syntax tree (names are checked later, against a schema).

    SELECT f1, f2, Parent.Name FROM Obj
      [WHERE cond [AND|OR cond] ...] [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...]
      [LIMIT n] [OFFSET n]
    SELECT COUNT() FROM Obj [WHERE ...]

Conditions: ``path op literal`` with = != <> < <= > >= LIKE, ``path [NOT] IN (literal, ...)``,
NOT, parentheses. Literals: 'strings' (backslash escapes), numbers, true, false, null, dates
``2026-01-01`` and unquoted datetimes ``2026-01-01T00:00:00Z`` / ``…+00:00`` / ``….000+0000``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from revsync.sandbox.crm.values import parse_datetime

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:\\.|[^'\\])*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
_KEYWORDS = frozenset(
    {"select", "from", "where", "and", "or", "not", "in", "like", "order", "by", "asc", "desc"}
    | {"nulls", "first", "last", "limit", "offset", "true", "false", "null", "count"}
)
_COMPARISONS = frozenset({"=", "!=", "<", "<=", ">", ">=", "like"})


class SoqlError(ValueError):
    """The query is not in the subset (answered with MALFORMED_QUERY)."""


@dataclass(frozen=True, slots=True)
class Literal:
    """A value in a condition: ``kind`` is string, number, boolean, null, date or datetime."""

    kind: str
    value: Any


@dataclass(frozen=True, slots=True)
class Condition:
    """``path op value`` (``op`` in lower case; ``in``/``not in`` carry a tuple of literals)."""

    path: tuple[str, ...]
    op: str
    value: Literal | tuple[Literal, ...]


@dataclass(frozen=True, slots=True)
class BoolOp:
    """``and`` / ``or`` over two or more parts, or ``not`` over one."""

    op: str
    parts: tuple[Expr, ...]


Expr = Condition | BoolOp


@dataclass(frozen=True, slots=True)
class OrderItem:
    """One ORDER BY key."""

    path: tuple[str, ...]
    descending: bool = False
    nulls_last: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed SELECT."""

    object_name: str
    fields: tuple[tuple[str, ...], ...]
    count_only: bool = False
    where: Expr | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    at: int

    def keyword(self) -> str | None:
        lowered = self.text.lower()
        return lowered if self.kind == "name" and lowered in _KEYWORDS else None


def tokenize(text: str) -> list[_Token]:
    """The tokens of a query; SoqlError at the first character that starts none."""
    tokens: list[_Token] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise SoqlError(f"unexpected token: {text[at : at + 20]!r} at column {at + 1}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group(), at))
        at = match.end()
    return tokens


def _unquote(token: str) -> str:
    body = token[1:-1]
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            index += 1
            follower = body[index]
            out.append(_ESCAPES.get(follower, follower))
        else:
            out.append(char)
        index += 1
    return "".join(out)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    # -- token helpers ---------------------------------------------------------------------

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def next(self, what: str) -> _Token:
        token = self.peek()
        if token is None:
            raise SoqlError(f"unexpected end of query: expecting {what}")
        self.index += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.keyword() in words

    def expect_keyword(self, word: str) -> None:
        token = self.next(word.upper())
        if token.keyword() != word:
            raise SoqlError(f"unexpected token: {token.text!r}, expecting {word.upper()}")

    def expect_punct(self, char: str) -> None:
        token = self.next(repr(char))
        if token.text != char:
            raise SoqlError(f"unexpected token: {token.text!r}, expecting {char!r}")

    def name(self, what: str) -> tuple[str, ...]:
        token = self.next(what)
        if token.kind != "name" or token.keyword() is not None:
            raise SoqlError(f"unexpected token: {token.text!r}, expecting {what}")
        return tuple(token.text.split("."))

    # -- grammar ---------------------------------------------------------------------------

    def query(self) -> Query:
        self.expect_keyword("select")
        count_only, fields = self.select_list()
        self.expect_keyword("from")
        object_path = self.name("an object name")
        if len(object_path) != 1:
            raise SoqlError(f"unexpected object name {'.'.join(object_path)!r}")
        where = None
        if self.at_keyword("where"):
            self.index += 1
            where = self.disjunction()
        order = self.order_by() if self.at_keyword("order") else ()
        limit = self.count_clause("limit")
        offset = self.count_clause("offset")
        token = self.peek()
        if token is not None:
            raise SoqlError(f"unexpected token: {token.text!r} at column {token.at + 1}")
        return Query(object_path[0], fields, count_only, where, order, limit, offset)

    def select_list(self) -> tuple[bool, tuple[tuple[str, ...], ...]]:
        if self.at_keyword("count"):
            self.index += 1
            self.expect_punct("(")
            self.expect_punct(")")
            return True, ()
        fields = [self.name("a field name")]
        while self.peek() is not None and self.tokens[self.index].text == ",":
            self.index += 1
            fields.append(self.name("a field name"))
        token = self.peek()
        if token is not None and token.text == "(":
            raise SoqlError("functions and aggregates are not supported by the sandbox")
        return False, tuple(dict.fromkeys(fields))

    def disjunction(self) -> Expr:
        parts = [self.conjunction()]
        while self.at_keyword("or"):
            self.index += 1
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def conjunction(self) -> Expr:
        parts = [self.factor()]
        while self.at_keyword("and"):
            self.index += 1
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def factor(self) -> Expr:
        if self.at_keyword("not"):
            self.index += 1
            return BoolOp("not", (self.factor(),))
        token = self.peek()
        if token is not None and token.text == "(":
            self.index += 1
            inner = self.disjunction()
            self.expect_punct(")")
            return inner
        return self.condition()

    def condition(self) -> Condition:
        path = self.name("a field name")
        if self.at_keyword("not"):
            self.index += 1
            self.expect_keyword("in")
            return Condition(path, "not in", self.literal_list())
        if self.at_keyword("in"):
            self.index += 1
            return Condition(path, "in", self.literal_list())
        token = self.next("an operator")
        op = "!=" if token.text == "<>" else token.text.lower()
        if op not in _COMPARISONS or (token.kind == "name" and op != "like"):
            raise SoqlError(f"unexpected token: {token.text!r}, expecting an operator")
        return Condition(path, op, self.literal())

    def literal_list(self) -> tuple[Literal, ...]:
        self.expect_punct("(")
        values = [self.literal()]
        while self.peek() is not None and self.tokens[self.index].text == ",":
            self.index += 1
            values.append(self.literal())
        self.expect_punct(")")
        return tuple(values)

    def literal(self) -> Literal:
        token = self.next("a value")
        keyword = token.keyword()
        if keyword in ("true", "false"):
            return Literal("boolean", keyword == "true")
        if keyword == "null":
            return Literal("null", None)
        if token.kind == "string":
            return Literal("string", _unquote(token.text))
        if token.kind == "number":
            return Literal("number", Decimal(token.text))
        if token.kind == "date":
            return Literal("date", self.date_value(token.text))
        if token.kind == "datetime":
            return Literal("datetime", self.datetime_value(token.text))
        raise SoqlError(f"unexpected token: {token.text!r}, expecting a value")

    @staticmethod
    def date_value(text: str) -> date:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise SoqlError(f"invalid date: {text}") from None

    @staticmethod
    def datetime_value(text: str) -> datetime:
        moment = parse_datetime(text)
        if moment is None:
            raise SoqlError(f"invalid datetime: {text}")
        return moment

    def order_by(self) -> tuple[OrderItem, ...]:
        self.expect_keyword("order")
        self.expect_keyword("by")
        items = [self.order_item()]
        while self.peek() is not None and self.tokens[self.index].text == ",":
            self.index += 1
            items.append(self.order_item())
        return tuple(items)

    def order_item(self) -> OrderItem:
        path = self.name("a field name")
        descending = False
        if self.at_keyword("asc", "desc"):
            descending = self.next("ASC or DESC").text.lower() == "desc"
        nulls_last = descending
        if self.at_keyword("nulls"):
            self.index += 1
            if not self.at_keyword("first", "last"):
                raise SoqlError("expecting FIRST or LAST after NULLS")
            nulls_last = self.next("FIRST or LAST").text.lower() == "last"
        return OrderItem(path, descending, nulls_last)

    def count_clause(self, word: str) -> int | None:
        if not self.at_keyword(word):
            return None
        self.index += 1
        token = self.next("a number")
        if token.kind != "number" or not token.text.isdigit():
            raise SoqlError(f"{word.upper()} takes a whole number, not {token.text!r}")
        return int(token.text)


def parse(text: str) -> Query:
    """The syntax tree of a query; SoqlError when it is not in the subset."""
    if not text.strip():
        raise SoqlError("empty query")
    return _Parser(text).query()

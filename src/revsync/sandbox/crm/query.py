"""Running a parsed SOQL query against the records: names checked against the schema, literal
types checked against the fields, then filter, sort, limit and project (parent fields nested)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from revsync.sandbox.crm import soql
from revsync.sandbox.crm.errors import ApiError, invalid_field, malformed_query
from revsync.sandbox.crm.ids import to18
from revsync.sandbox.crm.schema import FieldDef, ObjectDef, Schema
from revsync.sandbox.crm.values import ID_TYPES, NUMBER_TYPES, TEXT_TYPES, parse_datetime

Record = dict[str, Any]
Lookup = Callable[[str], Record | None]
_Test = Callable[[Record, Lookup], bool]
_ORDERING = frozenset({"<", "<=", ">", ">="})


class RecordSource(Protocol):
    """Where a query reads records from."""

    def records(self, object_name: str, *, include_deleted: bool) -> list[Record]:
        """Every record of a type, in Id order."""
        ...

    def find(self, record_id: str) -> Record | None:
        """A record of any type by its 18-character id; None when missing or deleted."""
        ...


@dataclass(frozen=True, slots=True)
class _Path:
    """A field reached from the queried object through zero or more relationships."""

    hops: tuple[FieldDef, ...]
    leaf: FieldDef

    @property
    def label(self) -> str:
        return ".".join([*(h.relationship or "" for h in self.hops), self.leaf.name])


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The matches of a query, projected; ``total`` counts all of them (also for COUNT())."""

    total: int
    records: list[Record]


def _no_column(name: str, entity: str) -> ApiError:
    return invalid_field(
        f"No such column '{name}' on entity '{entity}'. If you are attempting to use a custom "
        "field, be sure to append the '__c' after the custom field name. Please reference your "
        "WSDL or the describe call for the appropriate names."
    )


def _bind_path(schema: Schema, root: ObjectDef, path: tuple[str, ...]) -> _Path:
    targets = [root]
    hops: list[FieldDef] = []
    for relation in path[:-1]:
        reference = next(
            (t.relationship(relation) for t in targets if t.relationship(relation)), None
        )
        if reference is None:
            raise invalid_field(
                f"Didn't understand relationship '{relation}' in field path. If you are attempting "
                "to use a custom relationship, be sure to append the '__r' after the custom "
                "relationship name."
            )
        hops.append(reference)
        targets = [o for name in reference.reference_to if (o := schema.object(name)) is not None]
    leaf = next((f for t in targets if (f := t.field(path[-1])) is not None), None)
    if leaf is None:
        raise _no_column(path[-1], targets[0].name if targets else root.name)
    return _Path(tuple(hops), leaf)


def _resolve(path: _Path, record: Record, lookup: Lookup) -> Any:
    current: Record | None = record
    for hop in path.hops:
        target = current.get(hop.name) if current is not None else None
        current = lookup(target) if isinstance(target, str) else None
        if current is None:
            return None
    return current.get(path.leaf.name) if current is not None else None


# -- comparable values -------------------------------------------------------------------------


def _comparable(field: FieldDef, value: Any) -> Any:
    """A stored value in the form literals are compared with (None stays None)."""
    if value is None:
        return None
    if field.type in TEXT_TYPES:
        return str(value).casefold()
    if field.type in NUMBER_TYPES:
        return Decimal(str(value))
    if field.type == "date":
        return date.fromisoformat(value)
    if field.type == "datetime":
        return parse_datetime(value)
    return value


def _type_mismatch(path: _Path, expected: str, quoted: bool) -> ApiError:
    enclosed = "should be enclosed in quotes" if quoted else "should not be enclosed in quotes"
    return invalid_field(
        f"value of filter criterion for field '{path.label}' must be of type {expected} and "
        f"{enclosed}"
    )


def _literal_value(path: _Path, literal: soql.Literal) -> Any:
    """The literal converted for comparison with ``path``'s field; ApiError when it does not fit."""
    field = path.leaf
    if literal.kind == "null":
        return None
    if field.type in TEXT_TYPES:
        if literal.kind != "string":
            raise _type_mismatch(path, "string", quoted=True)
        return str(literal.value).casefold()
    if field.type in ID_TYPES:
        if literal.kind != "string":
            raise _type_mismatch(path, "id", quoted=True)
        normal = to18(literal.value)
        if normal is None:
            raise ApiError(
                400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {literal.value}"
            )
        return normal
    expected = {"boolean": "boolean", "date": "date", "datetime": "datetime"}.get(field.type)
    if field.type in NUMBER_TYPES:
        expected = "number"
    if expected is None or literal.kind != expected:
        raise _type_mismatch(path, {"datetime": "dateTime"}.get(field.type, field.type), False)
    return literal.value


def _like(pattern: str) -> re.Pattern[str]:
    parts = (".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if left is None or right is None:
        return False
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def _bind_condition(schema: Schema, root: ObjectDef, cond: soql.Condition) -> _Test:
    path = _bind_path(schema, root, cond.path)
    field = path.leaf

    def value_of(record: Record, lookup: Lookup) -> Any:
        return _comparable(field, _resolve(path, record, lookup))

    if cond.op in ("in", "not in"):
        assert isinstance(cond.value, tuple)
        options = [_literal_value(path, lit) for lit in cond.value]
        negate = cond.op == "not in"
        return lambda record, lookup: (value_of(record, lookup) in options) != negate
    assert isinstance(cond.value, soql.Literal)
    if cond.op == "like":
        if field.type not in TEXT_TYPES or cond.value.kind != "string":
            raise ApiError(
                400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid operator on {path.label}"
            )
        pattern = _like(str(cond.value.value))
        return lambda record, lookup: bool(
            (raw := _resolve(path, record, lookup)) is not None and pattern.fullmatch(str(raw))
        )
    right = _literal_value(path, cond.value)
    if (right is None or field.type == "boolean") and cond.op in _ORDERING:
        raise ApiError(
            400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid operator {cond.op} on {path.label}"
        )
    op = cond.op
    return lambda record, lookup: _compare(op, value_of(record, lookup), right)


def _bind_expr(schema: Schema, root: ObjectDef, expr: soql.Expr) -> _Test:
    if isinstance(expr, soql.Condition):
        return _bind_condition(schema, root, expr)
    parts = [_bind_expr(schema, root, part) for part in expr.parts]
    if expr.op == "not":
        return lambda record, lookup: not parts[0](record, lookup)
    if expr.op == "and":
        return lambda record, lookup: all(p(record, lookup) for p in parts)
    return lambda record, lookup: any(p(record, lookup) for p in parts)


# -- ordering and projection ---------------------------------------------------------------------


def _sort(
    records: list[Record], keys: Iterable[tuple[_Path, soql.OrderItem]], lookup: Lookup
) -> list[Record]:
    ordered = list(records)
    for path, item in reversed(list(keys)):
        values = [(_comparable(path.leaf, _resolve(path, r, lookup)), r) for r in ordered]
        present = [pair for pair in values if pair[0] is not None]
        present.sort(key=lambda pair: pair[0], reverse=item.descending)
        missing = [r for value, r in values if value is None]
        kept = [r for _, r in present]
        ordered = kept + missing if item.nulls_last else missing + kept
    return ordered


def _attributes(schema: Schema, record: Record, version: str) -> dict[str, str]:
    object_def = schema.by_id(record["Id"])
    assert object_def is not None
    return {"type": object_def.name, "url": object_def.url(version, record["Id"])}


def _project(
    schema: Schema, record: Record, paths: list[_Path], lookup: Lookup, version: str
) -> Record:
    out: Record = {"attributes": _attributes(schema, record, version)}
    for path in paths:
        container, current = out, record
        for hop in path.hops:
            name = hop.relationship or hop.name
            if name not in container:
                target_id = current.get(hop.name)
                target = lookup(target_id) if isinstance(target_id, str) else None
                container[name] = (
                    None if target is None else {"attributes": _attributes(schema, target, version)}
                )
            if container[name] is None:
                break
            found = lookup(current[hop.name])
            assert found is not None
            container, current = container[name], found
        else:
            container[path.leaf.name] = current.get(path.leaf.name)
    return out


def _cached(source: RecordSource) -> Lookup:
    cache: dict[str, Record | None] = {}

    def lookup(record_id: str) -> Record | None:
        if record_id not in cache:
            cache[record_id] = source.find(record_id)
        return cache[record_id]

    return lookup


def run(
    text: str, schema: Schema, source: RecordSource, *, include_deleted: bool, version: str
) -> QueryResult:
    """Parse, check and run a query; ApiError (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE…)
    when it cannot be run."""
    try:
        parsed = soql.parse(text)
    except soql.SoqlError as error:
        raise malformed_query(str(error)) from None
    root = schema.object(parsed.object_name)
    if root is None:
        raise ApiError(
            400,
            "INVALID_TYPE",
            f"sObject type '{parsed.object_name}' is not supported. If you are attempting to use "
            "a custom object, be sure to append the '__c' after the entity name.",
        )
    paths = [_bind_path(schema, root, p) for p in parsed.fields]
    test = _bind_expr(schema, root, parsed.where) if parsed.where is not None else None
    keys = [(_bind_path(schema, root, o.path), o) for o in parsed.order_by]
    lookup = _cached(source)
    matches = source.records(root.name, include_deleted=include_deleted)
    if test is not None:
        matches = [r for r in matches if test(r, lookup)]
    matches = _sort(matches, keys, lookup)
    start = parsed.offset or 0
    end = None if parsed.limit is None else start + parsed.limit
    matches = matches[start:end]
    if parsed.count_only:
        return QueryResult(len(matches), [])
    return QueryResult(len(matches), [_project(schema, r, paths, lookup, version) for r in matches])

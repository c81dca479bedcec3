"""Event schemas: versioned JSON Schemas for a CloudEvent's ``data``, and the rules between
versions.

Pure: which keywords revsync reasons about, whether a new version can read what the previous
one accepted (and the other way round), the field maps that carry data from one version to
the next, how a ``dataschema`` names a version, and which unknown-type policy a source has.
Validating data against a schema is the validator's (a port); this module decides only what
can be decided by looking at two schemas.

The compatibility check is a conservative structural comparison: it says "compatible" only
when every instance the first schema accepts is also accepted by the second, judged keyword
by keyword over the subset in :data:`CHECKED_KEYWORDS`. When it cannot tell, it refuses and
names the place.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final
from urllib.parse import unquote

from revsync.domain.errors import InvalidField


class Compatibility(StrEnum):
    """What a new version of a type must keep with the version before it."""

    #: the new version reads data written for the previous one (the default)
    BACKWARD = "backward"
    #: the previous version reads data written for the new one
    FORWARD = "forward"
    #: both
    FULL = "full"
    #: not checked
    NONE = "none"


class UnknownTypes(StrEnum):
    """What happens to an event whose type has no schema (and no meter reads)."""

    ACCEPT = "accept"
    QUARANTINE = "quarantine"
    REJECT = "reject"


#: the most versions one type may have
MAX_VERSIONS: Final = 1000
#: the longest schema accepted, as canonical JSON (bytes)
MAX_SCHEMA_BYTES: Final = 64 * 1024
#: the deepest nesting of a schema document (objects and arrays)
MAX_SCHEMA_DEPTH: Final = 32
#: the canonical dataschema of version ``n`` of type ``t``: ``urn:revsync:schema:t:n``
URN_PREFIX: Final = "urn:revsync:schema:"

#: keywords the compatibility check reasons about
CHECKED_KEYWORDS: Final = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "enum",
        "const",
        "items",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
    }
)
#: keywords that say nothing about which data is valid
ANNOTATIONS: Final = frozenset(
    {"title", "description", "default", "examples", "$comment", "deprecated", "readOnly"}
)
#: keywords of the validator that never reach outside the document; refused nowhere
_STANDALONE: Final = frozenset(
    {"$id", "id", "$dynamicRef", "$recursiveRef", "$anchor", "$dynamicAnchor"}
)
_TYPES: Final = ("null", "boolean", "object", "array", "number", "string", "integer")
_ANY_TYPE: Final = frozenset(_TYPES)
_PATH_FORM: Final = re.compile(r"/v1/schemas/(?P<type>[^/?#]+)/versions/(?P<n>[0-9]{1,9})$")


@dataclass(frozen=True, slots=True)
class Upcast:
    """How data of the previous version reads as this one: top-level fields renamed, given
    a default when absent, or dropped. Applied in that order."""

    rename: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    drop: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rename or self.defaults or self.drop)

    def apply(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The data as the next version reads it (a new mapping; ``data`` is not changed)."""
        out = dict(data)
        for old, new in self.rename.items():
            if old in out:
                out[new] = out.pop(old)
        for name, value in self.defaults.items():
            out.setdefault(name, value)
        for name in self.drop:
            out.pop(name, None)
        return out

    def to_data(self) -> dict[str, Any]:
        """The field map as plain data (the API's and the config's shape)."""
        return {
            "rename": dict(self.rename),
            "defaults": dict(self.defaults),
            "drop": list(self.drop),
        }


def upcast_from(data: Mapping[str, Any] | None, where: str = "upcast") -> Upcast:
    """A field map from its plain shape (``rename``, ``defaults``, ``drop``), or
    :class:`InvalidField` naming the part at fault."""
    if data is None:
        return Upcast()
    if not isinstance(data, Mapping):
        raise InvalidField(where, "must be an object with rename, defaults and drop")
    unknown = sorted(set(data) - {"rename", "defaults", "drop"})
    if unknown:
        raise InvalidField(
            f"{where}.{unknown[0]}", "unknown field (expected: defaults, drop, rename)"
        )
    rename = data.get("rename") or {}
    defaults = data.get("defaults") or {}
    drop = data.get("drop") or []
    if not isinstance(rename, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and k and v for k, v in rename.items()
    ):
        raise InvalidField(f"{where}.rename", "must map field names to field names")
    if len(set(rename.values())) != len(rename):
        raise InvalidField(f"{where}.rename", "two fields are renamed to the same name")
    if not isinstance(defaults, Mapping) or not all(isinstance(k, str) and k for k in defaults):
        raise InvalidField(f"{where}.defaults", "must map field names to values")
    if not isinstance(drop, list) or not all(isinstance(n, str) and n for n in drop):
        raise InvalidField(f"{where}.drop", "must be a list of field names")
    for name in drop:
        if name in rename.values() or name in defaults:
            raise InvalidField(f"{where}.drop", f"{name!r} is renamed to or given a default too")
    return Upcast(dict(rename), dict(defaults), tuple(drop))


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    """One registered version of an event type's data schema."""

    type: str
    version: int
    schema: Mapping[str, Any] | bool
    #: the schema as canonical JSON (what is stored, compared and served)
    text: str
    compatibility: Compatibility = Compatibility.BACKWARD
    #: how data of ``version - 1`` reads as this version
    upcast: Upcast = field(default_factory=Upcast)

    @property
    def uri(self) -> str:
        """The canonical ``dataschema`` of this version."""
        return schema_uri(self.type, self.version)


def schema_uri(event_type: str, version: int) -> str:
    """``urn:revsync:schema:<type>:<n>``."""
    return f"{URN_PREFIX}{event_type}:{version}"


def version_named(dataschema: str, event_type: str) -> int | None:
    """The version of ``event_type`` a ``dataschema`` names, or ``None`` when it names none:
    ``urn:revsync:schema:<type>:<n>``, or any URL whose path ends with
    ``/v1/schemas/<type>/versions/<n>`` (the API's address of that version)."""
    if dataschema.startswith(URN_PREFIX):
        named, _, number = dataschema[len(URN_PREFIX) :].rpartition(":")
    else:
        found = _PATH_FORM.search(dataschema.split("?", 1)[0].split("#", 1)[0])
        if found is None:
            return None
        named, number = unquote(found["type"]), found["n"]
    if named != event_type or not number.isdigit() or len(number) > 9:
        return None
    return int(number) or None


def check_type_name(event_type: str) -> None:
    """An event type as a registry key: 1 to 256 visible characters, no ``/``."""
    if not event_type or len(event_type) > 256:
        raise InvalidField("type", "must be 1 to 256 characters")
    if any(not ch.isprintable() or ch.isspace() or ch == "/" for ch in event_type):
        raise InvalidField("type", "must be visible characters without spaces or '/'")


# --- what a schema may contain ---------------------------------------------------------------


def check_schema(schema: object, mode: Compatibility) -> None:
    """Refuse, with :class:`InvalidField`, a schema revsync will not run: not an object (or
    boolean); nested deeper than :data:`MAX_SCHEMA_DEPTH`; a ``$ref`` outside the document or
    an ``$id`` / ``$dynamicRef`` (nothing is ever fetched); and, unless ``mode`` is ``none``,
    any keyword the compatibility check cannot reason about."""
    if not isinstance(schema, Mapping | bool):
        raise InvalidField("schema", "must be a JSON Schema: an object or a boolean")
    for path, node, depth in _schema_nodes(schema, "schema", 1):
        if depth > MAX_SCHEMA_DEPTH:
            raise InvalidField(path, f"nested deeper than {MAX_SCHEMA_DEPTH} levels")
        if not isinstance(node, Mapping):
            continue
        for keyword, value in node.items():
            if keyword == "$ref":
                if not isinstance(value, str) or not value.startswith("#"):
                    raise InvalidField(
                        f"{path}.$ref",
                        "only references inside the schema ('#/…') are allowed: revsync "
                        "never fetches a schema",
                    )
            elif keyword in _STANDALONE and (keyword != "id" or isinstance(value, str)):
                raise InvalidField(
                    f"{path}.{keyword}", "not allowed: a registered schema stands alone"
                )
            if (
                mode is not Compatibility.NONE
                and keyword not in CHECKED_KEYWORDS
                and keyword not in ANNOTATIONS
                and not (keyword == "$schema" and path == "schema")
            ):
                raise InvalidField(
                    f"{path}.{keyword}",
                    f"the compatibility check cannot reason about {keyword!r}; use the "
                    "keywords it supports, or compatibility 'none'",
                )
        if mode is not Compatibility.NONE:
            _check_shapes(node, path)


def _check_shapes(node: Mapping[str, Any], path: str) -> None:
    """The checked keywords must hold values of their shape (the validator says the rest)."""
    kinds = node.get("type")
    if kinds is not None:
        names = [kinds] if isinstance(kinds, str) else kinds
        if not isinstance(names, list) or not names or any(n not in _TYPES for n in names):
            raise InvalidField(f"{path}.type", f"must be one or more of: {', '.join(_TYPES)}")
    if "properties" in node and not isinstance(node["properties"], Mapping):
        raise InvalidField(f"{path}.properties", "must be an object")
    required = node.get("required")
    if required is not None and (
        not isinstance(required, list) or not all(isinstance(n, str) for n in required)
    ):
        raise InvalidField(f"{path}.required", "must be a list of field names")
    if "items" in node and not isinstance(node["items"], Mapping | bool):
        raise InvalidField(f"{path}.items", "must be one schema (tuple forms are not checked)")
    if "additionalProperties" in node and not isinstance(
        node["additionalProperties"], Mapping | bool
    ):
        raise InvalidField(f"{path}.additionalProperties", "must be a schema or a boolean")
    if "enum" in node and not isinstance(node["enum"], list):
        raise InvalidField(f"{path}.enum", "must be a list")
    for keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if keyword in node and not _is_number(node[keyword]):
            raise InvalidField(f"{path}.{keyword}", "must be a number")
    for keyword in ("minLength", "maxLength", "minItems", "maxItems"):
        if keyword in node and (
            not isinstance(node[keyword], int)
            or isinstance(node[keyword], bool)
            or node[keyword] < 0
        ):
            raise InvalidField(f"{path}.{keyword}", "must be a non-negative integer")


_SCHEMA_MAPS: Final = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
)
_SCHEMA_LISTS: Final = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SCHEMA_VALUES: Final = frozenset(
    {
        "items",
        "additionalItems",
        "additionalProperties",
        "unevaluatedItems",
        "unevaluatedProperties",
        "propertyNames",
        "contains",
        "not",
        "if",
        "then",
        "else",
        "contentSchema",
    }
)


def _schema_nodes(node: object, path: str, depth: int) -> Iterator[tuple[str, object, int]]:
    """Every subschema with its dotted path and nesting depth, without recursion; any other
    value deeper than :data:`MAX_SCHEMA_DEPTH` is yielded with a depth past it."""
    stack: list[tuple[str, object, int]] = [(path, node, depth)]
    while stack:
        where, current, level = stack.pop()
        yield where, current, level
        if level > MAX_SCHEMA_DEPTH or not isinstance(current, Mapping):
            continue
        for key, value in current.items():
            at = f"{where}.{key}"
            if key in _SCHEMA_MAPS and isinstance(value, Mapping):
                stack.extend((f"{at}.{name}", sub, level + 2) for name, sub in value.items())
            elif key in _SCHEMA_LISTS | _SCHEMA_VALUES and isinstance(value, list):
                stack.extend((f"{at}.{i}", sub, level + 2) for i, sub in enumerate(value))
            elif key in _SCHEMA_VALUES:
                stack.append((at, value, level + 1))
            elif _depth(value) + level > MAX_SCHEMA_DEPTH:
                yield at, value, MAX_SCHEMA_DEPTH + 1


def _depth(value: object) -> int:
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        current, level = stack.pop()
        if isinstance(current, Mapping):
            deepest = max(deepest, level)
            if level <= MAX_SCHEMA_DEPTH:
                stack.extend((v, level + 1) for v in current.values())
        elif isinstance(current, list):
            deepest = max(deepest, level)
            if level <= MAX_SCHEMA_DEPTH:
                stack.extend((v, level + 1) for v in current)
    return deepest


# --- compatibility ------------------------------------------------------------------------------


def breaking_change(previous: SchemaVersion, new: SchemaVersion) -> str | None:
    """Why ``new`` may not follow ``previous`` under ``new.compatibility``, or ``None``.

    ``previous`` is seen through ``new.upcast`` (the data the new version will be given):
    backward asks that all of it is valid under ``new``, forward that everything ``new``
    accepts is valid under it, full both."""
    mode = new.compatibility
    if mode is Compatibility.NONE:
        return None
    before = upcast_schema(previous.schema, new.upcast, new.schema)
    if mode in (Compatibility.BACKWARD, Compatibility.FULL):
        reason = narrower(before, new.schema, "data")
        if reason is not None:
            return f"not {mode.value} compatible with version {previous.version}: {reason}"
    if mode in (Compatibility.FORWARD, Compatibility.FULL):
        reason = narrower(new.schema, before, "data")
        if reason is not None:
            return (
                f"not {mode.value} compatible with version {previous.version} (which must "
                f"read data written for version {new.version}): {reason}"
            )
    return None


def upcast_schema(
    schema: Mapping[str, Any] | bool, upcast: Upcast, target: Mapping[str, Any] | bool
) -> Mapping[str, Any] | bool:
    """The schema of the data ``upcast`` makes from data valid under ``schema``: renamed
    properties renamed, a property given a default required (with the target's schema for
    it), dropped properties gone."""
    if not upcast or not isinstance(schema, Mapping):
        return schema
    properties = dict(schema.get("properties") or {})
    required = list(schema.get("required") or [])
    for old, new in upcast.rename.items():
        if old in properties:
            properties[new] = properties.pop(old)
        required = [new if name == old else name for name in required]
    targets = target.get("properties", {}) if isinstance(target, Mapping) else {}
    for name in upcast.defaults:
        if name not in properties:
            properties[name] = targets.get(name, True)
        elif name not in required:  # absent values become the default
            properties[name] = {"anyOf": [properties[name], targets.get(name, True)]}
        if name not in required:
            required.append(name)
    for name in upcast.drop:
        properties.pop(name, None)
        required = [n for n in required if n != name]
    out = dict(schema)
    out["properties"] = properties
    out["required"] = required
    if upcast.drop and schema.get("additionalProperties") is False:
        out["additionalProperties"] = False
    return out


def narrower(a: Mapping[str, Any] | bool, b: Mapping[str, Any] | bool, path: str) -> str | None:
    """``None`` when every instance valid under ``a`` is valid under ``b`` (as far as the
    checked keywords show); otherwise the first place where ``b`` is narrower, named
    (``data.properties.units: type changed from number to string``)."""
    if a is False or b is True:
        return None
    if b is False:
        return f"{path}: accepts nothing now"
    a_map: Mapping[str, Any] = {} if a is True else a
    b_map: Mapping[str, Any] = b
    if "anyOf" in a_map:  # only made by upcast_schema: each branch must fit
        for branch in a_map["anyOf"]:
            reason = narrower(branch, b, path)
            if reason is not None:
                return reason
        return None
    if "anyOf" in b_map:  # wide enough when one branch is (a conservative answer)
        reasons = [narrower(a, branch, path) for branch in b_map["anyOf"]]
        return None if None in reasons else reasons[0]
    values = _enumerated(a_map)
    if values is not None:
        for value in values:
            if not accepts(b_map, value):
                return f"{path}: value {_show(value)} no longer accepted"
        return None
    reason = _types_narrower(a_map, b_map, path)
    if reason is not None:
        return reason
    if "enum" in b_map or "const" in b_map:
        allowed = _show(_enumerated(b_map))
        return f"{path}: restricted to {allowed} (earlier data may carry other values)"
    kinds = _types(a_map) & _types(b_map)
    if kinds & {"number", "integer"}:
        reason = _bounds_narrower(a_map, b_map, path)
        if reason is not None:
            return reason
    if "string" in kinds:
        reason = _range_narrower(a_map, b_map, path, "minLength", "maxLength", "length")
        if reason is not None:
            return reason
    if "array" in kinds:
        reason = _range_narrower(a_map, b_map, path, "minItems", "maxItems", "item count")
        if reason is None:
            reason = narrower(a_map.get("items", True), b_map.get("items", True), f"{path}.items")
        if reason is not None:
            return reason
    if "object" in kinds:
        return _object_narrower(a_map, b_map, path)
    return None


def _types(schema: Mapping[str, Any]) -> frozenset[str]:
    kinds = schema.get("type")
    if kinds is None:
        return _ANY_TYPE
    names = frozenset([kinds] if isinstance(kinds, str) else kinds)
    return names | {"integer"} if "number" in names else names


def _types_narrower(a: Mapping[str, Any], b: Mapping[str, Any], path: str) -> str | None:
    lost = sorted(_types(a) - _types(b), key=_TYPES.index)
    if not lost:
        return None
    if "type" not in a:
        return f"{path}: type narrowed to {_type_text(b)} (earlier data may carry any type)"
    return f"{path}: type changed from {_type_text(a)} to {_type_text(b)}"


def _type_text(schema: Mapping[str, Any]) -> str:
    kinds = schema.get("type")
    return kinds if isinstance(kinds, str) else " or ".join(kinds or ())


def _bounds_narrower(a: Mapping[str, Any], b: Mapping[str, Any], path: str) -> str | None:
    for side, inclusive, exclusive in (
        ("low", "minimum", "exclusiveMinimum"),
        ("high", "maximum", "exclusiveMaximum"),
    ):
        b_bound = _bound(b, inclusive, exclusive, side)
        if b_bound is None:
            continue
        a_bound = _bound(a, inclusive, exclusive, side)
        name = inclusive if not b_bound[1] else exclusive
        if a_bound is None:
            return f"{path}: {name} {_show(b_bound[0])} added"
        a_value, a_open = a_bound
        b_value, b_open = b_bound
        inside = a_value > b_value if side == "low" else a_value < b_value
        if not (inside or (a_value == b_value and (a_open or not b_open))):
            verb = "raised" if side == "low" else "lowered"
            return f"{path}: {name} {verb} from {_show(a_value)} to {_show(b_value)}"
    return None


def _bound(
    schema: Mapping[str, Any], inclusive: str, exclusive: str, side: str
) -> tuple[Decimal, bool] | None:
    """The tighter of a schema's inclusive and exclusive bound on one side: (value, open)."""
    found: list[tuple[Decimal, bool]] = []
    if _is_number(schema.get(inclusive)):
        found.append((Decimal(schema[inclusive]), False))
    if _is_number(schema.get(exclusive)):
        found.append((Decimal(schema[exclusive]), True))
    if not found:
        return None
    if side == "low":
        return max(found, key=lambda b: (b[0], b[1]))
    return min(found, key=lambda b: (b[0], not b[1]))


def _range_narrower(
    a: Mapping[str, Any], b: Mapping[str, Any], path: str, low: str, high: str, what: str
) -> str | None:
    a_low, b_low = a.get(low, 0), b.get(low, 0)
    if b_low > a_low:
        return f"{path}: {low} raised from {a_low} to {b_low}"
    if high in b:
        if high not in a:
            return f"{path}: {high} {b[high]} added (earlier data has no {what} limit)"
        if b[high] < a[high]:
            return f"{path}: {high} lowered from {a[high]} to {b[high]}"
    return None


def _object_narrower(a: Mapping[str, Any], b: Mapping[str, Any], path: str) -> str | None:
    a_props: Mapping[str, Any] = a.get("properties") or {}
    b_props: Mapping[str, Any] = b.get("properties") or {}
    a_required = set(a.get("required") or ())
    for name in b.get("required") or ():
        if name not in a_required:
            where = "" if path == "data" else f"{path}: "
            return f'{where}required field "{name}" added'
    a_extra = a.get("additionalProperties", True)
    b_extra = b.get("additionalProperties", True)
    for name in sorted(set(a_props) | set(b_props)):
        a_schema = a_props.get(name, a_extra)
        b_schema = b_props.get(name, b_extra)
        where = f"{path}.properties.{name}"
        if name not in a_props and name in b_props and a_extra is not False:
            reason = narrower(a_schema, b_schema, where)
            if reason is not None:
                return (
                    f"{where}: declared, but the object was open and earlier data may carry "
                    f'"{name}" with any value (close it with additionalProperties: false)'
                    if a_schema is True
                    else reason
                )
            continue
        if name in a_props and name not in b_props and b_extra is False:
            return f'{path}: field "{name}" removed from a closed object'
        reason = narrower(a_schema, b_schema, where)
        if reason is not None:
            return reason
    if b_extra is False and a_extra is not False:
        return (
            f"{path}: closed (additionalProperties: false), but earlier data may carry other fields"
        )
    return narrower(a_extra, b_extra, f"{path}.additionalProperties")


def _enumerated(schema: Mapping[str, Any]) -> list[Any] | None:
    if "const" in schema:
        values = [schema["const"]]
        return [v for v in values if accepts({k: v for k, v in schema.items() if k != "const"}, v)]
    if "enum" in schema:
        rest = {k: v for k, v in schema.items() if k != "enum"}
        return [v for v in schema["enum"] if accepts(rest, v)]
    return None


# --- a small validator for the checked keywords (enum values and defaults) ----------------


def accepts(schema: Mapping[str, Any] | bool, value: object) -> bool:
    """Whether ``value`` (decoded JSON, numbers exact) is valid under ``schema``, judged by
    the checked keywords only (used on enum values and defaults, never on events)."""
    if isinstance(schema, bool):
        return schema
    if "anyOf" in schema:
        return any(accepts(branch, value) for branch in schema["anyOf"])
    if "type" in schema and _kind(value) not in _types(schema):
        return False
    if "const" in schema and not _same(schema["const"], value):
        return False
    if "enum" in schema and not any(_same(option, value) for option in schema["enum"]):
        return False
    if _is_number(value):
        number = Decimal(value)  # type: ignore[arg-type]
        low = _bound(schema, "minimum", "exclusiveMinimum", "low")
        high = _bound(schema, "maximum", "exclusiveMaximum", "high")
        if low is not None and (number < low[0] or (low[1] and number == low[0])):
            return False
        if high is not None and (number > high[0] or (high[1] and number == high[0])):
            return False
    elif isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get(
            "maxLength", len(value)
        ):
            return False
    elif isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get(
            "maxItems", len(value)
        ):
            return False
        return all(accepts(schema.get("items", True), item) for item in value)
    elif isinstance(value, Mapping):
        if any(name not in value for name in schema.get("required") or ()):
            return False
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties", True)
        return all(accepts(properties.get(k, extra), v) for k, v in value.items())
    return True


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, Decimal | float):
        return "integer" if value == int(value) else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _same(a: object, b: object) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b and (_is_number(a) == _is_number(b))


def _is_number(value: object) -> bool:
    return isinstance(value, int | Decimal | float) and not isinstance(value, bool)


def _show(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value) if not isinstance(value, list) else "[" + ", ".join(map(_show, value)) + "]"


# --- the unknown-type policy ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceRule:
    """A policy for events whose ``source`` is ``source`` (``prefix``: starts with it)."""

    source: str
    policy: UnknownTypes
    prefix: bool = False


def policy_for(source: str, default: UnknownTypes, rules: Sequence[SourceRule]) -> UnknownTypes:
    """The unknown-type policy of a source: an exact rule, else the longest matching prefix,
    else ``default``."""
    best: SourceRule | None = None
    for rule in rules:
        if not rule.prefix:
            if rule.source == source:
                return rule.policy
        elif source.startswith(rule.source) and (
            best is None or len(rule.source) > len(best.source)
        ):
            best = rule
    return best.policy if best is not None else default

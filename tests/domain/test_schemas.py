"""The compatibility checker, the upcast field maps, dataschema names and source policies:
pure, no validator and no database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revsync.domain.errors import InvalidField
from revsync.domain.schemas import (
    Compatibility,
    SchemaVersion,
    SourceRule,
    UnknownTypes,
    Upcast,
    accepts,
    breaking_change,
    check_schema,
    narrower,
    policy_for,
    version_named,
)

NAMES = st.sampled_from(["units", "region", "model", "tokens", "seats", "note"])
SCALARS = st.sampled_from(
    [
        {"type": "string"},
        {"type": "string", "maxLength": 10},
        {"type": "integer", "minimum": 0},
        {"type": "number", "maximum": 100},
        {"type": "boolean"},
        {"enum": ["a", "b"]},
    ]
)


@st.composite
def objects(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    names = draw(st.lists(NAMES, unique=True, max_size=4))
    leaf = objects(depth + 1) if depth < 1 else SCALARS
    properties = {name: draw(st.one_of(SCALARS, leaf)) for name in names}
    required = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    if draw(st.booleans()):
        schema["additionalProperties"] = False
    return schema


def version(
    schema: Any, n: int, mode: Compatibility = Compatibility.BACKWARD, upcast: Upcast | None = None
) -> SchemaVersion:
    return SchemaVersion("t", n, schema, "", mode, upcast or Upcast())


@settings(max_examples=40, deadline=None)
@given(objects())
def test_a_schema_is_compatible_with_itself_in_every_mode(schema: dict[str, Any]) -> None:
    for mode in Compatibility:
        assert breaking_change(version(schema, 1), version(schema, 2, mode)) is None


@settings(max_examples=40, deadline=None)
@given(objects(), NAMES, SCALARS)
def test_adding_an_optional_property_to_a_closed_object_is_backward(
    schema: dict[str, Any], name: str, kind: dict[str, Any]
) -> None:
    closed = {**schema, "additionalProperties": False}
    closed["properties"] = {k: v for k, v in closed["properties"].items() if k != name}
    closed["required"] = [r for r in closed["required"] if r != name]
    grown = {**closed, "properties": {**closed["properties"], name: kind}}
    assert breaking_change(version(closed, 1), version(grown, 2)) is None
    # and the older version cannot read the newer data: not forward
    assert breaking_change(version(closed, 1), version(grown, 2, Compatibility.FORWARD)) is not None


@settings(max_examples=40, deadline=None)
@given(objects(), NAMES, SCALARS)
def test_adding_a_required_property_is_not_backward(
    schema: dict[str, Any], name: str, kind: dict[str, Any]
) -> None:
    base = {**schema, "properties": {k: v for k, v in schema["properties"].items() if k != name}}
    base["required"] = [r for r in base["required"] if r != name]
    grown = {
        **base,
        "properties": {**base["properties"], name: kind},
        "required": [*base["required"], name],
    }
    reason = breaking_change(version(base, 1), version(grown, 2))
    assert reason is not None and name in reason


@settings(max_examples=40, deadline=None)
@given(objects(), NAMES, SCALARS, st.sampled_from(["x", 1, True]))
def test_a_required_field_given_a_default_by_the_upcast_is_backward(
    schema: dict[str, Any], name: str, kind: dict[str, Any], default: Any
) -> None:
    base = {**schema, "properties": {k: v for k, v in schema["properties"].items() if k != name}}
    base["required"] = [r for r in base["required"] if r != name]
    base["additionalProperties"] = False
    open_kind: dict[str, Any] = {}  # any value: the default always fits
    grown = {
        **base,
        "properties": {**base["properties"], name: open_kind},
        "required": [*base["required"], name],
    }
    assert (
        breaking_change(
            version(base, 1), version(grown, 2, upcast=Upcast(defaults={name: default}))
        )
        is None
    )


@settings(max_examples=40, deadline=None)
@given(objects())
def test_narrower_agrees_with_the_values_it_accepts(schema: dict[str, Any]) -> None:
    # a schema is never narrower than itself, and nothing is wider than `true`
    assert narrower(schema, schema, "data") is None
    assert narrower(schema, True, "data") is None
    assert narrower(False, schema, "data") is None


def test_named_breaking_changes() -> None:
    v1 = {"type": "object", "properties": {"units": {"type": "number"}}, "required": ["units"]}
    v2 = {"type": "object", "properties": {"units": {"type": "string"}}, "required": ["units"]}
    assert "data.properties.units: type changed from number to string" in (
        breaking_change(version(v1, 1), version(v2, 2)) or ""
    )
    bounded = {"type": "object", "properties": {"units": {"type": "number", "maximum": 5}}}
    assert "maximum 5 added" in (breaking_change(version(v1, 1), version(bounded, 2)) or "")
    tighter = {"type": "object", "properties": {"units": {"type": "number", "maximum": 4}}}
    assert "maximum lowered from 5 to 4" in (
        breaking_change(version(bounded, 1), version(tighter, 2)) or ""
    )
    # widening is backward but not forward
    assert breaking_change(version(tighter, 1), version(bounded, 2)) is None
    assert breaking_change(version(tighter, 1), version(bounded, 2, Compatibility.FULL)) is not None
    enum1 = {"enum": ["a", "b"]}
    assert 'value "b" no longer accepted' in (
        breaking_change(version(enum1, 1), version({"enum": ["a"]}, 2)) or ""
    )
    assert breaking_change(version(v1, 1), version(v2, 2, Compatibility.NONE)) is None


def test_a_rename_needs_its_upcast() -> None:
    v1 = {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    v2 = {
        "type": "object",
        "properties": {"b": {"type": "integer"}},
        "required": ["b"],
        "additionalProperties": False,
    }
    assert breaking_change(version(v1, 1), version(v2, 2)) is not None
    assert breaking_change(version(v1, 1), version(v2, 2, upcast=Upcast(rename={"a": "b"}))) is None
    assert Upcast(rename={"a": "b"}, defaults={"c": 1}, drop=("d",)).apply({"a": 5, "d": 0}) == {
        "b": 5,
        "c": 1,
    }


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ({"$ref": "http://example.com/s.json"}, "schema.$ref"),
        ({"properties": {"a": {"$ref": "other.json#/x"}}}, "schema.properties.a.$ref"),
        ({"$id": "https://example.com/s"}, "schema.$id"),
        ({"type": "string", "pattern": "^a+$"}, "schema.pattern"),
        ({"allOf": [{"type": "string"}]}, "schema.allOf"),
        ({"type": "strange"}, "schema.type"),
    ],
)
def test_refused_schemas_name_the_keyword(schema: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidField) as refused:
        check_schema(schema, Compatibility.BACKWARD)
    assert refused.value.field == field


def test_mode_none_runs_what_the_checker_cannot_reason_about_but_never_remote_refs() -> None:
    check_schema(
        {"type": "string", "pattern": "^a+$", "allOf": [{"$ref": "#/$defs/x"}], "$defs": {"x": {}}},
        Compatibility.NONE,
    )
    with pytest.raises(InvalidField):
        check_schema({"$ref": "https://example.com/s.json"}, Compatibility.NONE)
    deep: dict[str, Any] = {}
    for _ in range(40):
        deep = {"properties": {"a": deep}}
    with pytest.raises(InvalidField, match="deeper"):
        check_schema(deep, Compatibility.NONE)


def test_dataschema_names_a_version() -> None:
    assert version_named("urn:revsync:schema:llm.completion:2", "llm.completion") == 2
    assert (
        version_named("https://x.example/v1/schemas/llm.completion/versions/3", "llm.completion")
        == 3
    )
    assert version_named("urn:revsync:schema:other:2", "llm.completion") is None
    assert version_named("urn:revsync:schema:llm.completion:0", "llm.completion") is None
    assert version_named("https://example.com/schema.json", "llm.completion") is None


def test_source_policies_exact_then_longest_prefix() -> None:
    rules = [
        SourceRule("app://", UnknownTypes.QUARANTINE, prefix=True),
        SourceRule("app://eu/", UnknownTypes.REJECT, prefix=True),
        SourceRule("app://eu/legacy", UnknownTypes.ACCEPT),
    ]
    assert policy_for("app://eu/legacy", UnknownTypes.ACCEPT, rules) is UnknownTypes.ACCEPT
    assert policy_for("app://eu/x", UnknownTypes.ACCEPT, rules) is UnknownTypes.REJECT
    assert policy_for("app://us", UnknownTypes.ACCEPT, rules) is UnknownTypes.QUARANTINE
    assert policy_for("other", UnknownTypes.REJECT, rules) is UnknownTypes.REJECT


def test_accepts_is_exact_with_decimals() -> None:
    assert accepts({"type": "number", "maximum": Decimal("10.5")}, Decimal("10.5"))
    assert not accepts({"type": "number", "exclusiveMaximum": Decimal("10.5")}, Decimal("10.5"))
    assert not accepts({"type": "integer"}, True)

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.unknown_types import UnknownTypes

T = TypeVar("T", bound="SourcePolicyOut")


@_attrs_define
class SourcePolicyOut:
    """
    Attributes:
        match (str): `exact` or `prefix`.
        source (str):
        unknown_types (UnknownTypes): What happens to an event whose type has no schema (and no meter reads).
    """

    match: str
    source: str
    unknown_types: UnknownTypes
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        match = self.match

        source = self.source

        unknown_types = self.unknown_types.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "match": match,
                "source": source,
                "unknown_types": unknown_types,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        match = d.pop("match")

        source = d.pop("source")

        unknown_types = UnknownTypes(d.pop("unknown_types"))

        source_policy_out = cls(
            match=match,
            source=source,
            unknown_types=unknown_types,
        )

        source_policy_out.additional_properties = d
        return source_policy_out

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties

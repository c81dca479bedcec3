from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.unknown_types import UnknownTypes

if TYPE_CHECKING:
    from ..models.schema_type_out import SchemaTypeOut
    from ..models.source_policy_out import SourcePolicyOut


T = TypeVar("T", bound="SchemaListOut")


@_attrs_define
class SchemaListOut:
    """Every declared type, and the unknown-type policy.

    Attributes:
        sources (list[SourcePolicyOut]):
        types (list[SchemaTypeOut]):
        unknown_types (UnknownTypes): What happens to an event whose type has no schema (and no meter reads).
    """

    sources: list[SourcePolicyOut]
    types: list[SchemaTypeOut]
    unknown_types: UnknownTypes
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        sources = []
        for sources_item_data in self.sources:
            sources_item = sources_item_data.to_dict()
            sources.append(sources_item)

        types = []
        for types_item_data in self.types:
            types_item = types_item_data.to_dict()
            types.append(types_item)

        unknown_types = self.unknown_types.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "sources": sources,
                "types": types,
                "unknown_types": unknown_types,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.schema_type_out import SchemaTypeOut  # noqa: PLC0415
        from ..models.source_policy_out import SourcePolicyOut  # noqa: PLC0415

        d = dict(src_dict)
        sources = []
        _sources = d.pop("sources")
        for sources_item_data in _sources:
            sources_item = SourcePolicyOut.from_dict(sources_item_data)

            sources.append(sources_item)

        types = []
        _types = d.pop("types")
        for types_item_data in _types:
            types_item = SchemaTypeOut.from_dict(types_item_data)

            types.append(types_item)

        unknown_types = UnknownTypes(d.pop("unknown_types"))

        schema_list_out = cls(
            sources=sources,
            types=types,
            unknown_types=unknown_types,
        )

        schema_list_out.additional_properties = d
        return schema_list_out

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

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.compatibility import Compatibility

if TYPE_CHECKING:
    from ..models.version_summary_out import VersionSummaryOut


T = TypeVar("T", bound="SchemaTypeOut")


@_attrs_define
class SchemaTypeOut:
    """A declared event type and its versions.

    Attributes:
        compatibility (Compatibility): What a new version of a type must keep with the version before it.
        latest (int):
        metered (bool): A configured meter reads this type.
        type_ (str):
        versions (list[VersionSummaryOut]):
    """

    compatibility: Compatibility
    latest: int
    metered: bool
    type_: str
    versions: list[VersionSummaryOut]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        compatibility = self.compatibility.value

        latest = self.latest

        metered = self.metered

        type_ = self.type_

        versions = []
        for versions_item_data in self.versions:
            versions_item = versions_item_data.to_dict()
            versions.append(versions_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "compatibility": compatibility,
                "latest": latest,
                "metered": metered,
                "type": type_,
                "versions": versions,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.version_summary_out import VersionSummaryOut  # noqa: PLC0415

        d = dict(src_dict)
        compatibility = Compatibility(d.pop("compatibility"))

        latest = d.pop("latest")

        metered = d.pop("metered")

        type_ = d.pop("type")

        versions = []
        _versions = d.pop("versions")
        for versions_item_data in _versions:
            versions_item = VersionSummaryOut.from_dict(versions_item_data)

            versions.append(versions_item)

        schema_type_out = cls(
            compatibility=compatibility,
            latest=latest,
            metered=metered,
            type_=type_,
            versions=versions,
        )

        schema_type_out.additional_properties = d
        return schema_type_out

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

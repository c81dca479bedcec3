from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="VersionSummaryOut")


@_attrs_define
class VersionSummaryOut:
    """
    Attributes:
        registered_at (datetime.datetime):
        source (str):
        uri (str):
        version (int):
    """

    registered_at: datetime.datetime
    source: str
    uri: str
    version: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        registered_at = self.registered_at.isoformat()

        source = self.source

        uri = self.uri

        version = self.version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "registered_at": registered_at,
                "source": source,
                "uri": uri,
                "version": version,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        registered_at = datetime.datetime.fromisoformat(d.pop("registered_at"))

        source = d.pop("source")

        uri = d.pop("uri")

        version = d.pop("version")

        version_summary_out = cls(
            registered_at=registered_at,
            source=source,
            uri=uri,
            version=version,
        )

        version_summary_out.additional_properties = d
        return version_summary_out

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

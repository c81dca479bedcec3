from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="UnmappedTenantOut")


@_attrs_define
class UnmappedTenantOut:
    """Events waiting for their tenant to be mapped.

    Attributes:
        events (int):
        first_time (datetime.datetime):
        last_time (datetime.datetime):
        subject (str):
    """

    events: int
    first_time: datetime.datetime
    last_time: datetime.datetime
    subject: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        events = self.events

        first_time = self.first_time.isoformat()

        last_time = self.last_time.isoformat()

        subject = self.subject

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "events": events,
                "first_time": first_time,
                "last_time": last_time,
                "subject": subject,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        events = d.pop("events")

        first_time = datetime.datetime.fromisoformat(d.pop("first_time"))

        last_time = datetime.datetime.fromisoformat(d.pop("last_time"))

        subject = d.pop("subject")

        unmapped_tenant_out = cls(
            events=events,
            first_time=first_time,
            last_time=last_time,
            subject=subject,
        )

        unmapped_tenant_out.additional_properties = d
        return unmapped_tenant_out

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

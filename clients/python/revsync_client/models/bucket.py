from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.bucket_group import BucketGroup


T = TypeVar("T", bound="Bucket")


@_attrs_define
class Bucket:
    """One window (and group) of a meter; ``value`` is an exact decimal string; a group value
    is the JSON value of the dimension (string, number, boolean or null).

        Attributes:
            end (datetime.datetime):
            events (int):
            group (BucketGroup):
            start (datetime.datetime):
            value (str):
    """

    end: datetime.datetime
    events: int
    group: BucketGroup
    start: datetime.datetime
    value: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        end = self.end.isoformat()

        events = self.events

        group = self.group.to_dict()

        start = self.start.isoformat()

        value = self.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "end": end,
                "events": events,
                "group": group,
                "start": start,
                "value": value,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.bucket_group import BucketGroup  # noqa: PLC0415

        d = dict(src_dict)
        end = datetime.datetime.fromisoformat(d.pop("end"))

        events = d.pop("events")

        group = BucketGroup.from_dict(d.pop("group"))

        start = datetime.datetime.fromisoformat(d.pop("start"))

        value = d.pop("value")

        bucket = cls(
            end=end,
            events=events,
            group=group,
            start=start,
            value=value,
        )

        bucket.additional_properties = d
        return bucket

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

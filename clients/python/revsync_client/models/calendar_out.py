from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.interval import Interval

T = TypeVar("T", bound="CalendarOut")


@_attrs_define
class CalendarOut:
    """Periods of ``interval`` from ``anchor`` (usage periods of ``usage_interval``), in force
    from ``start`` until the next calendar's start.

        Attributes:
            anchor (datetime.date):
            interval (Interval): How long a billing period is.
            start (datetime.date):
            usage_interval (Interval): How long a billing period is.
    """

    anchor: datetime.date
    interval: Interval
    start: datetime.date
    usage_interval: Interval
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        anchor = self.anchor.isoformat()

        interval = self.interval.value

        start = self.start.isoformat()

        usage_interval = self.usage_interval.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "anchor": anchor,
                "interval": interval,
                "start": start,
                "usage_interval": usage_interval,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        anchor = datetime.date.fromisoformat(d.pop("anchor"))

        interval = Interval(d.pop("interval"))

        start = datetime.date.fromisoformat(d.pop("start"))

        usage_interval = Interval(d.pop("usage_interval"))

        calendar_out = cls(
            anchor=anchor,
            interval=interval,
            start=start,
            usage_interval=usage_interval,
        )

        calendar_out.additional_properties = d
        return calendar_out

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

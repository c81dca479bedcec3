from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.window import Window

if TYPE_CHECKING:
    from ..models.bucket import Bucket


T = TypeVar("T", bound="UsageOut")


@_attrs_define
class UsageOut:
    """Aggregates of one meter for one customer (and, if asked, its descendants).

    Attributes:
        aggregation (str):
        buckets (list[Bucket]):
        customer_id (str):
        customer_ids (list[str]):
        end (datetime.datetime):
        group_by (list[str]):
        meter (str):
        start (datetime.datetime):
        timezone (str):
        window (None | Window):
    """

    aggregation: str
    buckets: list[Bucket]
    customer_id: str
    customer_ids: list[str]
    end: datetime.datetime
    group_by: list[str]
    meter: str
    start: datetime.datetime
    timezone: str
    window: None | Window
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        aggregation = self.aggregation

        buckets = []
        for buckets_item_data in self.buckets:
            buckets_item = buckets_item_data.to_dict()
            buckets.append(buckets_item)

        customer_id = self.customer_id

        customer_ids = self.customer_ids

        end = self.end.isoformat()

        group_by = self.group_by

        meter = self.meter

        start = self.start.isoformat()

        timezone = self.timezone

        window: None | str
        if isinstance(self.window, Window):
            window = self.window.value
        else:
            window = self.window

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "aggregation": aggregation,
                "buckets": buckets,
                "customer_id": customer_id,
                "customer_ids": customer_ids,
                "end": end,
                "group_by": group_by,
                "meter": meter,
                "start": start,
                "timezone": timezone,
                "window": window,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.bucket import Bucket  # noqa: PLC0415

        d = dict(src_dict)
        aggregation = d.pop("aggregation")

        buckets = []
        _buckets = d.pop("buckets")
        for buckets_item_data in _buckets:
            buckets_item = Bucket.from_dict(buckets_item_data)

            buckets.append(buckets_item)

        customer_id = d.pop("customer_id")

        customer_ids = cast(list[str], d.pop("customer_ids"))

        end = datetime.datetime.fromisoformat(d.pop("end"))

        group_by = cast(list[str], d.pop("group_by"))

        meter = d.pop("meter")

        start = datetime.datetime.fromisoformat(d.pop("start"))

        timezone = d.pop("timezone")

        def _parse_window(data: object) -> None | Window:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                window_type_0 = Window(data)

                return window_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Window, data)

        window = _parse_window(d.pop("window"))

        usage_out = cls(
            aggregation=aggregation,
            buckets=buckets,
            customer_id=customer_id,
            customer_ids=customer_ids,
            end=end,
            group_by=group_by,
            meter=meter,
            start=start,
            timezone=timezone,
            window=window,
        )

        usage_out.additional_properties = d
        return usage_out

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

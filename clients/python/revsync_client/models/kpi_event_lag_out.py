from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.kpi_lag_bucket_out import KpiLagBucketOut


T = TypeVar("T", bound="KpiEventLagOut")


@_attrs_define
class KpiEventLagOut:
    """Event time to receipt over the stored events counted so far.

    Attributes:
        buckets (list[KpiLagBucketOut]):
        count (int):
        sum_seconds (float):
    """

    buckets: list[KpiLagBucketOut]
    count: int
    sum_seconds: float
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        buckets = []
        for buckets_item_data in self.buckets:
            buckets_item = buckets_item_data.to_dict()
            buckets.append(buckets_item)

        count = self.count

        sum_seconds = self.sum_seconds

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "buckets": buckets,
                "count": count,
                "sum_seconds": sum_seconds,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.kpi_lag_bucket_out import KpiLagBucketOut  # noqa: PLC0415

        d = dict(src_dict)
        buckets = []
        _buckets = d.pop("buckets")
        for buckets_item_data in _buckets:
            buckets_item = KpiLagBucketOut.from_dict(buckets_item_data)

            buckets.append(buckets_item)

        count = d.pop("count")

        sum_seconds = d.pop("sum_seconds")

        kpi_event_lag_out = cls(
            buckets=buckets,
            count=count,
            sum_seconds=sum_seconds,
        )

        kpi_event_lag_out.additional_properties = d
        return kpi_event_lag_out

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

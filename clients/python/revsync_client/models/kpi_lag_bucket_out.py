from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="KpiLagBucketOut")


@_attrs_define
class KpiLagBucketOut:
    """
    Attributes:
        count (int): Events with a lag at or under it (cumulative).
        le (float | str): Upper bound in seconds, or `+Inf`.
    """

    count: int
    le: float | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        count = self.count

        le: float | str
        le = self.le

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "count": count,
                "le": le,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        count = d.pop("count")

        def _parse_le(data: object) -> float | str:
            return cast(float | str, data)

        le = _parse_le(d.pop("le"))

        kpi_lag_bucket_out = cls(
            count=count,
            le=le,
        )

        kpi_lag_bucket_out.additional_properties = d
        return kpi_lag_bucket_out

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

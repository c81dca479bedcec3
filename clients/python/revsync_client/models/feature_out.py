from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.enforcement import Enforcement
from ..models.feature_kind import FeatureKind
from ..types import UNSET, Unset

T = TypeVar("T", bound="FeatureOut")


@_attrs_define
class FeatureOut:
    """A feature of the plan; ``limit`` and ``enforcement`` for a quota, ``meter`` where one
    counts it.

        Attributes:
            key (str):
            kind (FeatureKind): What a feature grants.
            enforcement (Enforcement | Unset): What happens beyond a quota.
            limit (str | Unset):
            meter (str | Unset):
    """

    key: str
    kind: FeatureKind
    enforcement: Enforcement | Unset = UNSET
    limit: str | Unset = UNSET
    meter: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        key = self.key

        kind = self.kind.value

        enforcement: str | Unset = UNSET
        if not isinstance(self.enforcement, Unset):
            enforcement = self.enforcement.value

        limit = self.limit

        meter = self.meter

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "key": key,
                "kind": kind,
            }
        )
        if enforcement is not UNSET:
            field_dict["enforcement"] = enforcement
        if limit is not UNSET:
            field_dict["limit"] = limit
        if meter is not UNSET:
            field_dict["meter"] = meter

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        key = d.pop("key")

        kind = FeatureKind(d.pop("kind"))

        _enforcement = d.pop("enforcement", UNSET)
        enforcement: Enforcement | Unset
        if isinstance(_enforcement, Unset):
            enforcement = UNSET
        else:
            enforcement = Enforcement(_enforcement)

        limit = d.pop("limit", UNSET)

        meter = d.pop("meter", UNSET)

        feature_out = cls(
            key=key,
            kind=kind,
            enforcement=enforcement,
            limit=limit,
            meter=meter,
        )

        feature_out.additional_properties = d
        return feature_out

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

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ScopeOut")


@_attrs_define
class ScopeOut:
    """
    Attributes:
        meters (list[str] | Unset):
        plans (list[str] | Unset):
    """

    meters: list[str] | Unset = UNSET
    plans: list[str] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        meters: list[str] | Unset = UNSET
        if not isinstance(self.meters, Unset):
            meters = self.meters

        plans: list[str] | Unset = UNSET
        if not isinstance(self.plans, Unset):
            plans = self.plans

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if meters is not UNSET:
            field_dict["meters"] = meters
        if plans is not UNSET:
            field_dict["plans"] = plans

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        meters = cast(list[str], d.pop("meters", UNSET))

        plans = cast(list[str], d.pop("plans", UNSET))

        scope_out = cls(
            meters=meters,
            plans=plans,
        )

        scope_out.additional_properties = d
        return scope_out

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

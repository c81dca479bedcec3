from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="TierOut")


@_attrs_define
class TierOut:
    """
    Attributes:
        flat_amount (str):
        unit_amount (str):
        up_to (None | str):
    """

    flat_amount: str
    unit_amount: str
    up_to: None | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        flat_amount = self.flat_amount

        unit_amount = self.unit_amount

        up_to: None | str
        up_to = self.up_to

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "flat_amount": flat_amount,
                "unit_amount": unit_amount,
                "up_to": up_to,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        flat_amount = d.pop("flat_amount")

        unit_amount = d.pop("unit_amount")

        def _parse_up_to(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        up_to = _parse_up_to(d.pop("up_to"))

        tier_out = cls(
            flat_amount=flat_amount,
            unit_amount=unit_amount,
            up_to=up_to,
        )

        tier_out.additional_properties = d
        return tier_out

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

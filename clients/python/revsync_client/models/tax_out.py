from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="TaxOut")


@_attrs_define
class TaxOut:
    """
    Attributes:
        amount (str):
        base (str):
        rate (str):
        tax_code (str):
    """

    amount: str
    base: str
    rate: str
    tax_code: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        amount = self.amount

        base = self.base

        rate = self.rate

        tax_code = self.tax_code

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "amount": amount,
                "base": base,
                "rate": rate,
                "tax_code": tax_code,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        amount = d.pop("amount")

        base = d.pop("base")

        rate = d.pop("rate")

        tax_code = d.pop("tax_code")

        tax_out = cls(
            amount=amount,
            base=base,
            rate=rate,
            tax_code=tax_code,
        )

        tax_out.additional_properties = d
        return tax_out

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

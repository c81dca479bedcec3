from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="TotalsOut")


@_attrs_define
class TotalsOut:
    """
    Attributes:
        amount_due (str):
        credits_ (str):
        discount (str):
        subtotal (str):
        tax (str):
        total (str):
    """

    amount_due: str
    credits_: str
    discount: str
    subtotal: str
    tax: str
    total: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        amount_due = self.amount_due

        credits_ = self.credits_

        discount = self.discount

        subtotal = self.subtotal

        tax = self.tax

        total = self.total

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "amount_due": amount_due,
                "credits": credits_,
                "discount": discount,
                "subtotal": subtotal,
                "tax": tax,
                "total": total,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        amount_due = d.pop("amount_due")

        credits_ = d.pop("credits")

        discount = d.pop("discount")

        subtotal = d.pop("subtotal")

        tax = d.pop("tax")

        total = d.pop("total")

        totals_out = cls(
            amount_due=amount_due,
            credits_=credits_,
            discount=discount,
            subtotal=subtotal,
            tax=tax,
            total=total,
        )

        totals_out.additional_properties = d
        return totals_out

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

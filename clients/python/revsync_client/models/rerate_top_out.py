from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.rerate_customer_figures import RerateCustomerFigures


T = TypeVar("T", bound="RerateTopOut")


@_attrs_define
class RerateTopOut:
    """The customers moved most (either way): in money, and in proportion of what they were
    issued.

        Attributes:
            by_amount (list[RerateCustomerFigures]):
            by_percent (list[RerateCustomerFigures]):
    """

    by_amount: list[RerateCustomerFigures]
    by_percent: list[RerateCustomerFigures]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        by_amount = []
        for by_amount_item_data in self.by_amount:
            by_amount_item = by_amount_item_data.to_dict()
            by_amount.append(by_amount_item)

        by_percent = []
        for by_percent_item_data in self.by_percent:
            by_percent_item = by_percent_item_data.to_dict()
            by_percent.append(by_percent_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "by_amount": by_amount,
                "by_percent": by_percent,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.rerate_customer_figures import RerateCustomerFigures  # noqa: PLC0415

        d = dict(src_dict)
        by_amount = []
        _by_amount = d.pop("by_amount")
        for by_amount_item_data in _by_amount:
            by_amount_item = RerateCustomerFigures.from_dict(by_amount_item_data)

            by_amount.append(by_amount_item)

        by_percent = []
        _by_percent = d.pop("by_percent")
        for by_percent_item_data in _by_percent:
            by_percent_item = RerateCustomerFigures.from_dict(by_percent_item_data)

            by_percent.append(by_percent_item)

        rerate_top_out = cls(
            by_amount=by_amount,
            by_percent=by_percent,
        )

        rerate_top_out.additional_properties = d
        return rerate_top_out

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

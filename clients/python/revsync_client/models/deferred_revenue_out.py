from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.customer_deferrals_out import CustomerDeferralsOut


T = TypeVar("T", bound="DeferredRevenueOut")


@_attrs_define
class DeferredRevenueOut:
    """
    Attributes:
        as_of (datetime.date):
        customers (list[CustomerDeferralsOut]):
    """

    as_of: datetime.date
    customers: list[CustomerDeferralsOut]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        as_of = self.as_of.isoformat()

        customers = []
        for customers_item_data in self.customers:
            customers_item = customers_item_data.to_dict()
            customers.append(customers_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "as_of": as_of,
                "customers": customers,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.customer_deferrals_out import CustomerDeferralsOut  # noqa: PLC0415

        d = dict(src_dict)
        as_of = datetime.date.fromisoformat(d.pop("as_of"))

        customers = []
        _customers = d.pop("customers")
        for customers_item_data in _customers:
            customers_item = CustomerDeferralsOut.from_dict(customers_item_data)

            customers.append(customers_item)

        deferred_revenue_out = cls(
            as_of=as_of,
            customers=customers,
        )

        deferred_revenue_out.additional_properties = d
        return deferred_revenue_out

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

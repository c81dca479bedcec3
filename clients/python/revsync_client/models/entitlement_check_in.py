from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="EntitlementCheckIn")


@_attrs_define
class EntitlementCheckIn:
    """Who (``customer_id`` or the product's ``tenant``), which feature, and how much more.

    Attributes:
        feature (str):
        customer_id (None | str | Unset):
        quantity (float | int | str | Unset): How much more would be used (default 1; 0 asks for the state). Default:
            '1'.
        tenant (None | str | Unset):
    """

    feature: str
    customer_id: None | str | Unset = UNSET
    quantity: float | int | str | Unset = "1"
    tenant: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        feature = self.feature

        customer_id: None | str | Unset
        if isinstance(self.customer_id, Unset):
            customer_id = UNSET
        else:
            customer_id = self.customer_id

        quantity: float | int | str | Unset
        if isinstance(self.quantity, Unset):
            quantity = UNSET
        else:
            quantity = self.quantity

        tenant: None | str | Unset
        if isinstance(self.tenant, Unset):
            tenant = UNSET
        else:
            tenant = self.tenant

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "feature": feature,
            }
        )
        if customer_id is not UNSET:
            field_dict["customer_id"] = customer_id
        if quantity is not UNSET:
            field_dict["quantity"] = quantity
        if tenant is not UNSET:
            field_dict["tenant"] = tenant

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        feature = d.pop("feature")

        def _parse_customer_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        customer_id = _parse_customer_id(d.pop("customer_id", UNSET))

        def _parse_quantity(data: object) -> float | int | str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(float | int | str | Unset, data)

        quantity = _parse_quantity(d.pop("quantity", UNSET))

        def _parse_tenant(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        tenant = _parse_tenant(d.pop("tenant", UNSET))

        entitlement_check_in = cls(
            feature=feature,
            customer_id=customer_id,
            quantity=quantity,
            tenant=tenant,
        )

        return entitlement_check_in

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="RerateErrorOut")


@_attrs_define
class RerateErrorOut:
    """A period that could not be rated again (left out of both sides).

    Attributes:
        customer_id (str):
        period (None | str):
        reason (str):
        subscription_id (str):
    """

    customer_id: str
    period: None | str
    reason: str
    subscription_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        customer_id = self.customer_id

        period: None | str
        period = self.period

        reason = self.reason

        subscription_id = self.subscription_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "customer_id": customer_id,
                "period": period,
                "reason": reason,
                "subscription_id": subscription_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        customer_id = d.pop("customer_id")

        def _parse_period(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        period = _parse_period(d.pop("period"))

        reason = d.pop("reason")

        subscription_id = d.pop("subscription_id")

        rerate_error_out = cls(
            customer_id=customer_id,
            period=period,
            reason=reason,
            subscription_id=subscription_id,
        )

        rerate_error_out.additional_properties = d
        return rerate_error_out

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

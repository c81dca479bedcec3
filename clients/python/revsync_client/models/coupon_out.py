from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.duration import Duration
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.scope_out import ScopeOut


T = TypeVar("T", bound="CouponOut")


@_attrs_define
class CouponOut:
    """
    Attributes:
        code (str):
        description (str):
        duration (Duration): How many billing periods a coupon covers.
        amount_off (str | Unset):
        applies_to (ScopeOut | Unset):
        currency (str | Unset):
        percent_off (str | Unset):
        periods (int | Unset):
    """

    code: str
    description: str
    duration: Duration
    amount_off: str | Unset = UNSET
    applies_to: ScopeOut | Unset = UNSET
    currency: str | Unset = UNSET
    percent_off: str | Unset = UNSET
    periods: int | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        code = self.code

        description = self.description

        duration = self.duration.value

        amount_off = self.amount_off

        applies_to: dict[str, Any] | Unset = UNSET
        if not isinstance(self.applies_to, Unset):
            applies_to = self.applies_to.to_dict()

        currency = self.currency

        percent_off = self.percent_off

        periods = self.periods

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "description": description,
                "duration": duration,
            }
        )
        if amount_off is not UNSET:
            field_dict["amount_off"] = amount_off
        if applies_to is not UNSET:
            field_dict["applies_to"] = applies_to
        if currency is not UNSET:
            field_dict["currency"] = currency
        if percent_off is not UNSET:
            field_dict["percent_off"] = percent_off
        if periods is not UNSET:
            field_dict["periods"] = periods

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.scope_out import ScopeOut  # noqa: PLC0415

        d = dict(src_dict)
        code = d.pop("code")

        description = d.pop("description")

        duration = Duration(d.pop("duration"))

        amount_off = d.pop("amount_off", UNSET)

        _applies_to = d.pop("applies_to", UNSET)
        applies_to: ScopeOut | Unset
        if isinstance(_applies_to, Unset):
            applies_to = UNSET
        else:
            applies_to = ScopeOut.from_dict(_applies_to)

        currency = d.pop("currency", UNSET)

        percent_off = d.pop("percent_off", UNSET)

        periods = d.pop("periods", UNSET)

        coupon_out = cls(
            code=code,
            description=description,
            duration=duration,
            amount_off=amount_off,
            applies_to=applies_to,
            currency=currency,
            percent_off=percent_off,
            periods=periods,
        )

        coupon_out.additional_properties = d
        return coupon_out

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

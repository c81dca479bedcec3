from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.rerate_period_out import ReratePeriodOut


T = TypeVar("T", bound="RerateCustomerOut")


@_attrs_define
class RerateCustomerOut:
    """A customer's figures and, with `detail`, its periods.

    Attributes:
        customer_id (str):
        difference (str):
        difference_percent (None | str): Of what was issued; null when nothing was.
        issued (str):
        rerated (str):
        periods (list[ReratePeriodOut] | Unset):
    """

    customer_id: str
    difference: str
    difference_percent: None | str
    issued: str
    rerated: str
    periods: list[ReratePeriodOut] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        customer_id = self.customer_id

        difference = self.difference

        difference_percent: None | str
        difference_percent = self.difference_percent

        issued = self.issued

        rerated = self.rerated

        periods: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.periods, Unset):
            periods = []
            for periods_item_data in self.periods:
                periods_item = periods_item_data.to_dict()
                periods.append(periods_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "customer_id": customer_id,
                "difference": difference,
                "difference_percent": difference_percent,
                "issued": issued,
                "rerated": rerated,
            }
        )
        if periods is not UNSET:
            field_dict["periods"] = periods

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.rerate_period_out import ReratePeriodOut  # noqa: PLC0415

        d = dict(src_dict)
        customer_id = d.pop("customer_id")

        difference = d.pop("difference")

        def _parse_difference_percent(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        difference_percent = _parse_difference_percent(d.pop("difference_percent"))

        issued = d.pop("issued")

        rerated = d.pop("rerated")

        _periods = d.pop("periods", UNSET)
        periods: list[ReratePeriodOut] | Unset = UNSET
        if _periods is not UNSET:
            periods = []
            for periods_item_data in _periods:
                periods_item = ReratePeriodOut.from_dict(periods_item_data)

                periods.append(periods_item)

        rerate_customer_out = cls(
            customer_id=customer_id,
            difference=difference,
            difference_percent=difference_percent,
            issued=issued,
            rerated=rerated,
            periods=periods,
        )

        rerate_customer_out.additional_properties = d
        return rerate_customer_out

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

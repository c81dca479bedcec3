from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="RerateTotalsOut")


@_attrs_define
class RerateTotalsOut:
    """
    Attributes:
        customers (int):
        difference (str):
        difference_percent (None | str): Of what was issued; null when nothing was.
        issued (str):
        periods (int):
        rerated (str):
    """

    customers: int
    difference: str
    difference_percent: None | str
    issued: str
    periods: int
    rerated: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        customers = self.customers

        difference = self.difference

        difference_percent: None | str
        difference_percent = self.difference_percent

        issued = self.issued

        periods = self.periods

        rerated = self.rerated

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "customers": customers,
                "difference": difference,
                "difference_percent": difference_percent,
                "issued": issued,
                "periods": periods,
                "rerated": rerated,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        customers = d.pop("customers")

        difference = d.pop("difference")

        def _parse_difference_percent(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        difference_percent = _parse_difference_percent(d.pop("difference_percent"))

        issued = d.pop("issued")

        periods = d.pop("periods")

        rerated = d.pop("rerated")

        rerate_totals_out = cls(
            customers=customers,
            difference=difference,
            difference_percent=difference_percent,
            issued=issued,
            periods=periods,
            rerated=rerated,
        )

        rerate_totals_out.additional_properties = d
        return rerate_totals_out

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

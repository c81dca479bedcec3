from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.deferred_line_out import DeferredLineOut
    from ..models.month_amount import MonthAmount


T = TypeVar("T", bound="CustomerDeferralsOut")


@_attrs_define
class CustomerDeferralsOut:
    """A customer's deferred revenue in one currency.

    Attributes:
        currency (str):
        customer_id (str):
        deferred (str):
        lines (list[DeferredLineOut]):
        schedule (list[MonthAmount]):
    """

    currency: str
    customer_id: str
    deferred: str
    lines: list[DeferredLineOut]
    schedule: list[MonthAmount]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        currency = self.currency

        customer_id = self.customer_id

        deferred = self.deferred

        lines = []
        for lines_item_data in self.lines:
            lines_item = lines_item_data.to_dict()
            lines.append(lines_item)

        schedule = []
        for schedule_item_data in self.schedule:
            schedule_item = schedule_item_data.to_dict()
            schedule.append(schedule_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "currency": currency,
                "customer_id": customer_id,
                "deferred": deferred,
                "lines": lines,
                "schedule": schedule,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.deferred_line_out import DeferredLineOut  # noqa: PLC0415
        from ..models.month_amount import MonthAmount  # noqa: PLC0415

        d = dict(src_dict)
        currency = d.pop("currency")

        customer_id = d.pop("customer_id")

        deferred = d.pop("deferred")

        lines = []
        _lines = d.pop("lines")
        for lines_item_data in _lines:
            lines_item = DeferredLineOut.from_dict(lines_item_data)

            lines.append(lines_item)

        schedule = []
        _schedule = d.pop("schedule")
        for schedule_item_data in _schedule:
            schedule_item = MonthAmount.from_dict(schedule_item_data)

            schedule.append(schedule_item)

        customer_deferrals_out = cls(
            currency=currency,
            customer_id=customer_id,
            deferred=deferred,
            lines=lines,
            schedule=schedule,
        )

        customer_deferrals_out.additional_properties = d
        return customer_deferrals_out

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

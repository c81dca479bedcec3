from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.kpi_unbilled_usage_out_amount_type_0 import KpiUnbilledUsageOutAmountType0
    from ..models.kpi_unbilled_usage_out_events_type_0 import KpiUnbilledUsageOutEventsType0


T = TypeVar("T", bound="KpiUnbilledUsageOut")


@_attrs_define
class KpiUnbilledUsageOut:
    """Usage on no finalized invoice, as the KPI job last measured it (null: never).

    Attributes:
        amount (KpiUnbilledUsageOutAmountType0 | None): Currency → what the next invoices will bill for it (decimal
            string).
        events (KpiUnbilledUsageOutEventsType0 | None): Events by age of their time.
        measured_at (None | str):
    """

    amount: KpiUnbilledUsageOutAmountType0 | None
    events: KpiUnbilledUsageOutEventsType0 | None
    measured_at: None | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.kpi_unbilled_usage_out_amount_type_0 import KpiUnbilledUsageOutAmountType0  # noqa: PLC0415
        from ..models.kpi_unbilled_usage_out_events_type_0 import KpiUnbilledUsageOutEventsType0  # noqa: PLC0415

        amount: dict[str, Any] | None
        if isinstance(self.amount, KpiUnbilledUsageOutAmountType0):
            amount = self.amount.to_dict()
        else:
            amount = self.amount

        events: dict[str, Any] | None
        if isinstance(self.events, KpiUnbilledUsageOutEventsType0):
            events = self.events.to_dict()
        else:
            events = self.events

        measured_at: None | str
        measured_at = self.measured_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "amount": amount,
                "events": events,
                "measured_at": measured_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.kpi_unbilled_usage_out_amount_type_0 import KpiUnbilledUsageOutAmountType0  # noqa: PLC0415
        from ..models.kpi_unbilled_usage_out_events_type_0 import KpiUnbilledUsageOutEventsType0  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_amount(data: object) -> KpiUnbilledUsageOutAmountType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                amount_type_0 = KpiUnbilledUsageOutAmountType0.from_dict(data)

                return amount_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(KpiUnbilledUsageOutAmountType0 | None, data)

        amount = _parse_amount(d.pop("amount"))

        def _parse_events(data: object) -> KpiUnbilledUsageOutEventsType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                events_type_0 = KpiUnbilledUsageOutEventsType0.from_dict(data)

                return events_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(KpiUnbilledUsageOutEventsType0 | None, data)

        events = _parse_events(d.pop("events"))

        def _parse_measured_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        measured_at = _parse_measured_at(d.pop("measured_at"))

        kpi_unbilled_usage_out = cls(
            amount=amount,
            events=events,
            measured_at=measured_at,
        )

        kpi_unbilled_usage_out.additional_properties = d
        return kpi_unbilled_usage_out

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

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.threshold_kind import ThresholdKind

T = TypeVar("T", bound="AlertOut")


@_attrs_define
class AlertOut:
    """A threshold reached, once per subscription, threshold and usage period.

    Attributes:
        crossed_at (datetime.datetime):
        currency (None | str):
        customer_id (str):
        interim_invoice_id (None | str):
        kind (ThresholdKind): What a threshold watches.
        limit (str): In the meter's units, or the currency for spend.
        meter (None | str):
        observed (str): What stood there when the usage was read.
        period_end (datetime.date):
        period_start (datetime.date):
        subscription_id (str):
        threshold (str): The threshold's key.
    """

    crossed_at: datetime.datetime
    currency: None | str
    customer_id: str
    interim_invoice_id: None | str
    kind: ThresholdKind
    limit: str
    meter: None | str
    observed: str
    period_end: datetime.date
    period_start: datetime.date
    subscription_id: str
    threshold: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        crossed_at = self.crossed_at.isoformat()

        currency: None | str
        currency = self.currency

        customer_id = self.customer_id

        interim_invoice_id: None | str
        interim_invoice_id = self.interim_invoice_id

        kind = self.kind.value

        limit = self.limit

        meter: None | str
        meter = self.meter

        observed = self.observed

        period_end = self.period_end.isoformat()

        period_start = self.period_start.isoformat()

        subscription_id = self.subscription_id

        threshold = self.threshold

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "crossed_at": crossed_at,
                "currency": currency,
                "customer_id": customer_id,
                "interim_invoice_id": interim_invoice_id,
                "kind": kind,
                "limit": limit,
                "meter": meter,
                "observed": observed,
                "period_end": period_end,
                "period_start": period_start,
                "subscription_id": subscription_id,
                "threshold": threshold,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        crossed_at = datetime.datetime.fromisoformat(d.pop("crossed_at"))

        def _parse_currency(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        currency = _parse_currency(d.pop("currency"))

        customer_id = d.pop("customer_id")

        def _parse_interim_invoice_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        interim_invoice_id = _parse_interim_invoice_id(d.pop("interim_invoice_id"))

        kind = ThresholdKind(d.pop("kind"))

        limit = d.pop("limit")

        def _parse_meter(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        meter = _parse_meter(d.pop("meter"))

        observed = d.pop("observed")

        period_end = datetime.date.fromisoformat(d.pop("period_end"))

        period_start = datetime.date.fromisoformat(d.pop("period_start"))

        subscription_id = d.pop("subscription_id")

        threshold = d.pop("threshold")

        alert_out = cls(
            crossed_at=crossed_at,
            currency=currency,
            customer_id=customer_id,
            interim_invoice_id=interim_invoice_id,
            kind=kind,
            limit=limit,
            meter=meter,
            observed=observed,
            period_end=period_end,
            period_start=period_start,
            subscription_id=subscription_id,
            threshold=threshold,
        )

        alert_out.additional_properties = d
        return alert_out

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

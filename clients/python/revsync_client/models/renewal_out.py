from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.verdict import Verdict

T = TypeVar("T", bound="RenewalOut")


@_attrs_define
class RenewalOut:
    """A subscription's renewal, assessed today.

    Attributes:
        customer_id (str):
        days (int): Days from today to the renewal.
        horizon (int): The nearest horizon (days) the renewal is within.
        reasons (list[str]):
        renewal_date (datetime.date):
        subscription_id (str):
        verdict (Verdict):
    """

    customer_id: str
    days: int
    horizon: int
    reasons: list[str]
    renewal_date: datetime.date
    subscription_id: str
    verdict: Verdict
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        customer_id = self.customer_id

        days = self.days

        horizon = self.horizon

        reasons = self.reasons

        renewal_date = self.renewal_date.isoformat()

        subscription_id = self.subscription_id

        verdict = self.verdict.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "customer_id": customer_id,
                "days": days,
                "horizon": horizon,
                "reasons": reasons,
                "renewal_date": renewal_date,
                "subscription_id": subscription_id,
                "verdict": verdict,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        customer_id = d.pop("customer_id")

        days = d.pop("days")

        horizon = d.pop("horizon")

        reasons = cast(list[str], d.pop("reasons"))

        renewal_date = datetime.date.fromisoformat(d.pop("renewal_date"))

        subscription_id = d.pop("subscription_id")

        verdict = Verdict(d.pop("verdict"))

        renewal_out = cls(
            customer_id=customer_id,
            days=days,
            horizon=horizon,
            reasons=reasons,
            renewal_date=renewal_date,
            subscription_id=subscription_id,
            verdict=verdict,
        )

        renewal_out.additional_properties = d
        return renewal_out

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

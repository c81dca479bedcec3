from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.entitlement_out import EntitlementOut
    from ..models.entitlement_period_out import EntitlementPeriodOut
    from ..models.entitlement_plan_out import EntitlementPlanOut


T = TypeVar("T", bound="CustomerEntitlementsOut")


@_attrs_define
class CustomerEntitlementsOut:
    """What the plan in service today entitles the customer to, as read at ``as_of``.

    Attributes:
        as_of (datetime.datetime):
        customer_id (str):
        features (list[EntitlementOut]):
        period (EntitlementPeriodOut | None):
        plan (EntitlementPlanOut | None):
        subscription_id (None | str):
    """

    as_of: datetime.datetime
    customer_id: str
    features: list[EntitlementOut]
    period: EntitlementPeriodOut | None
    plan: EntitlementPlanOut | None
    subscription_id: None | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.entitlement_period_out import EntitlementPeriodOut  # noqa: PLC0415
        from ..models.entitlement_plan_out import EntitlementPlanOut  # noqa: PLC0415

        as_of = self.as_of.isoformat()

        customer_id = self.customer_id

        features = []
        for features_item_data in self.features:
            features_item = features_item_data.to_dict()
            features.append(features_item)

        period: dict[str, Any] | None
        if isinstance(self.period, EntitlementPeriodOut):
            period = self.period.to_dict()
        else:
            period = self.period

        plan: dict[str, Any] | None
        if isinstance(self.plan, EntitlementPlanOut):
            plan = self.plan.to_dict()
        else:
            plan = self.plan

        subscription_id: None | str
        subscription_id = self.subscription_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "as_of": as_of,
                "customer_id": customer_id,
                "features": features,
                "period": period,
                "plan": plan,
                "subscription_id": subscription_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.entitlement_out import EntitlementOut  # noqa: PLC0415
        from ..models.entitlement_period_out import EntitlementPeriodOut  # noqa: PLC0415
        from ..models.entitlement_plan_out import EntitlementPlanOut  # noqa: PLC0415

        d = dict(src_dict)
        as_of = datetime.datetime.fromisoformat(d.pop("as_of"))

        customer_id = d.pop("customer_id")

        features = []
        _features = d.pop("features")
        for features_item_data in _features:
            features_item = EntitlementOut.from_dict(features_item_data)

            features.append(features_item)

        def _parse_period(data: object) -> EntitlementPeriodOut | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                period_type_0 = EntitlementPeriodOut.from_dict(data)

                return period_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(EntitlementPeriodOut | None, data)

        period = _parse_period(d.pop("period"))

        def _parse_plan(data: object) -> EntitlementPlanOut | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                plan_type_0 = EntitlementPlanOut.from_dict(data)

                return plan_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(EntitlementPlanOut | None, data)

        plan = _parse_plan(d.pop("plan"))

        def _parse_subscription_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        subscription_id = _parse_subscription_id(d.pop("subscription_id"))

        customer_entitlements_out = cls(
            as_of=as_of,
            customer_id=customer_id,
            features=features,
            period=period,
            plan=plan,
            subscription_id=subscription_id,
        )

        customer_entitlements_out.additional_properties = d
        return customer_entitlements_out

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

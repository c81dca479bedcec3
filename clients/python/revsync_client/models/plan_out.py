from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.interval import Interval
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.charge_out import ChargeOut
    from ..models.feature_out import FeatureOut
    from ..models.threshold_out import ThresholdOut


T = TypeVar("T", bound="PlanOut")


@_attrs_define
class PlanOut:
    """A version of a plan.

    Attributes:
        charges (list[ChargeOut]):
        code (str):
        currency (str):
        interval (Interval): How long a billing period is.
        name (str):
        usage_interval (Interval): How long a billing period is.
        version (int):
        features (list[FeatureOut] | Unset):
        maximum (str | Unset):
        minimum (str | Unset):
        minimum_includes_fees (bool | Unset):
        thresholds (list[ThresholdOut] | Unset):
    """

    charges: list[ChargeOut]
    code: str
    currency: str
    interval: Interval
    name: str
    usage_interval: Interval
    version: int
    features: list[FeatureOut] | Unset = UNSET
    maximum: str | Unset = UNSET
    minimum: str | Unset = UNSET
    minimum_includes_fees: bool | Unset = UNSET
    thresholds: list[ThresholdOut] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        charges = []
        for charges_item_data in self.charges:
            charges_item = charges_item_data.to_dict()
            charges.append(charges_item)

        code = self.code

        currency = self.currency

        interval = self.interval.value

        name = self.name

        usage_interval = self.usage_interval.value

        version = self.version

        features: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.features, Unset):
            features = []
            for features_item_data in self.features:
                features_item = features_item_data.to_dict()
                features.append(features_item)

        maximum = self.maximum

        minimum = self.minimum

        minimum_includes_fees = self.minimum_includes_fees

        thresholds: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.thresholds, Unset):
            thresholds = []
            for thresholds_item_data in self.thresholds:
                thresholds_item = thresholds_item_data.to_dict()
                thresholds.append(thresholds_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "charges": charges,
                "code": code,
                "currency": currency,
                "interval": interval,
                "name": name,
                "usage_interval": usage_interval,
                "version": version,
            }
        )
        if features is not UNSET:
            field_dict["features"] = features
        if maximum is not UNSET:
            field_dict["maximum"] = maximum
        if minimum is not UNSET:
            field_dict["minimum"] = minimum
        if minimum_includes_fees is not UNSET:
            field_dict["minimum_includes_fees"] = minimum_includes_fees
        if thresholds is not UNSET:
            field_dict["thresholds"] = thresholds

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.charge_out import ChargeOut  # noqa: PLC0415
        from ..models.feature_out import FeatureOut  # noqa: PLC0415
        from ..models.threshold_out import ThresholdOut  # noqa: PLC0415

        d = dict(src_dict)
        charges = []
        _charges = d.pop("charges")
        for charges_item_data in _charges:
            charges_item = ChargeOut.from_dict(charges_item_data)

            charges.append(charges_item)

        code = d.pop("code")

        currency = d.pop("currency")

        interval = Interval(d.pop("interval"))

        name = d.pop("name")

        usage_interval = Interval(d.pop("usage_interval"))

        version = d.pop("version")

        _features = d.pop("features", UNSET)
        features: list[FeatureOut] | Unset = UNSET
        if _features is not UNSET:
            features = []
            for features_item_data in _features:
                features_item = FeatureOut.from_dict(features_item_data)

                features.append(features_item)

        maximum = d.pop("maximum", UNSET)

        minimum = d.pop("minimum", UNSET)

        minimum_includes_fees = d.pop("minimum_includes_fees", UNSET)

        _thresholds = d.pop("thresholds", UNSET)
        thresholds: list[ThresholdOut] | Unset = UNSET
        if _thresholds is not UNSET:
            thresholds = []
            for thresholds_item_data in _thresholds:
                thresholds_item = ThresholdOut.from_dict(thresholds_item_data)

                thresholds.append(thresholds_item)

        plan_out = cls(
            charges=charges,
            code=code,
            currency=currency,
            interval=interval,
            name=name,
            usage_interval=usage_interval,
            version=version,
            features=features,
            maximum=maximum,
            minimum=minimum,
            minimum_includes_fees=minimum_includes_fees,
            thresholds=thresholds,
        )

        plan_out.additional_properties = d
        return plan_out

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

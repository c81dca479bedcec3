from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.interval import Interval
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.charge_in import ChargeIn
    from ..models.feature_in import FeatureIn
    from ..models.threshold_in import ThresholdIn


T = TypeVar("T", bound="PlanIn")


@_attrs_define
class PlanIn:
    """A plan definition (its code is in the path).

    Attributes:
        charges (list[ChargeIn]):
        currency (str): ISO 4217 code, e.g. EUR.
        interval (Interval): How long a billing period is.
        name (str):
        features (list[FeatureIn] | None | Unset):
        maximum (float | int | None | str | Unset):
        minimum (float | int | None | str | Unset):
        minimum_includes_fees (bool | None | Unset): the minimum counts the recurring fees as well as usage
        thresholds (list[ThresholdIn] | None | Unset):
        usage_interval (Interval | None | Unset):
    """

    charges: list[ChargeIn]
    currency: str
    interval: Interval
    name: str
    features: list[FeatureIn] | None | Unset = UNSET
    maximum: float | int | None | str | Unset = UNSET
    minimum: float | int | None | str | Unset = UNSET
    minimum_includes_fees: bool | None | Unset = UNSET
    thresholds: list[ThresholdIn] | None | Unset = UNSET
    usage_interval: Interval | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        charges = []
        for charges_item_data in self.charges:
            charges_item = charges_item_data.to_dict()
            charges.append(charges_item)

        currency = self.currency

        interval = self.interval.value

        name = self.name

        features: list[dict[str, Any]] | None | Unset
        if isinstance(self.features, Unset):
            features = UNSET
        elif isinstance(self.features, list):
            features = []
            for features_type_0_item_data in self.features:
                features_type_0_item = features_type_0_item_data.to_dict()
                features.append(features_type_0_item)

        else:
            features = self.features

        maximum: float | int | None | str | Unset
        if isinstance(self.maximum, Unset):
            maximum = UNSET
        else:
            maximum = self.maximum

        minimum: float | int | None | str | Unset
        if isinstance(self.minimum, Unset):
            minimum = UNSET
        else:
            minimum = self.minimum

        minimum_includes_fees: bool | None | Unset
        if isinstance(self.minimum_includes_fees, Unset):
            minimum_includes_fees = UNSET
        else:
            minimum_includes_fees = self.minimum_includes_fees

        thresholds: list[dict[str, Any]] | None | Unset
        if isinstance(self.thresholds, Unset):
            thresholds = UNSET
        elif isinstance(self.thresholds, list):
            thresholds = []
            for thresholds_type_0_item_data in self.thresholds:
                thresholds_type_0_item = thresholds_type_0_item_data.to_dict()
                thresholds.append(thresholds_type_0_item)

        else:
            thresholds = self.thresholds

        usage_interval: None | str | Unset
        if isinstance(self.usage_interval, Unset):
            usage_interval = UNSET
        elif isinstance(self.usage_interval, Interval):
            usage_interval = self.usage_interval.value
        else:
            usage_interval = self.usage_interval

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "charges": charges,
                "currency": currency,
                "interval": interval,
                "name": name,
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
        if usage_interval is not UNSET:
            field_dict["usage_interval"] = usage_interval

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.charge_in import ChargeIn  # noqa: PLC0415
        from ..models.feature_in import FeatureIn  # noqa: PLC0415
        from ..models.threshold_in import ThresholdIn  # noqa: PLC0415

        d = dict(src_dict)
        charges = []
        _charges = d.pop("charges")
        for charges_item_data in _charges:
            charges_item = ChargeIn.from_dict(charges_item_data)

            charges.append(charges_item)

        currency = d.pop("currency")

        interval = Interval(d.pop("interval"))

        name = d.pop("name")

        def _parse_features(data: object) -> list[FeatureIn] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                features_type_0 = []
                _features_type_0 = data
                for features_type_0_item_data in _features_type_0:
                    features_type_0_item = FeatureIn.from_dict(features_type_0_item_data)

                    features_type_0.append(features_type_0_item)

                return features_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[FeatureIn] | None | Unset, data)

        features = _parse_features(d.pop("features", UNSET))

        def _parse_maximum(data: object) -> float | int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | int | None | str | Unset, data)

        maximum = _parse_maximum(d.pop("maximum", UNSET))

        def _parse_minimum(data: object) -> float | int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | int | None | str | Unset, data)

        minimum = _parse_minimum(d.pop("minimum", UNSET))

        def _parse_minimum_includes_fees(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        minimum_includes_fees = _parse_minimum_includes_fees(d.pop("minimum_includes_fees", UNSET))

        def _parse_thresholds(data: object) -> list[ThresholdIn] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                thresholds_type_0 = []
                _thresholds_type_0 = data
                for thresholds_type_0_item_data in _thresholds_type_0:
                    thresholds_type_0_item = ThresholdIn.from_dict(thresholds_type_0_item_data)

                    thresholds_type_0.append(thresholds_type_0_item)

                return thresholds_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[ThresholdIn] | None | Unset, data)

        thresholds = _parse_thresholds(d.pop("thresholds", UNSET))

        def _parse_usage_interval(data: object) -> Interval | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                usage_interval_type_0 = Interval(data)

                return usage_interval_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Interval | None | Unset, data)

        usage_interval = _parse_usage_interval(d.pop("usage_interval", UNSET))

        plan_in = cls(
            charges=charges,
            currency=currency,
            interval=interval,
            name=name,
            features=features,
            maximum=maximum,
            minimum=minimum,
            minimum_includes_fees=minimum_includes_fees,
            thresholds=thresholds,
            usage_interval=usage_interval,
        )

        return plan_in

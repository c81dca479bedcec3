from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.threshold_in import ThresholdIn


T = TypeVar("T", bound="ThresholdsIn")


@_attrs_define
class ThresholdsIn:
    """The subscription's own thresholds (they replace the ones it had; one with the key of a
    plan's threshold replaces that one for this subscription).

        Attributes:
            thresholds (list[ThresholdIn]):
    """

    thresholds: list[ThresholdIn]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        thresholds = []
        for thresholds_item_data in self.thresholds:
            thresholds_item = thresholds_item_data.to_dict()
            thresholds.append(thresholds_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "thresholds": thresholds,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.threshold_in import ThresholdIn  # noqa: PLC0415

        d = dict(src_dict)
        thresholds = []
        _thresholds = d.pop("thresholds")
        for thresholds_item_data in _thresholds:
            thresholds_item = ThresholdIn.from_dict(thresholds_item_data)

            thresholds.append(thresholds_item)

        thresholds_in = cls(
            thresholds=thresholds,
        )

        thresholds_in.additional_properties = d
        return thresholds_in

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

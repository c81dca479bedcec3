from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.threshold_kind import ThresholdKind
from ..types import UNSET, Unset

T = TypeVar("T", bound="ThresholdOut")


@_attrs_define
class ThresholdOut:
    """A threshold; ``meter`` for usage and percent, ``invoice`` when it bills at once.

    Attributes:
        key (str):
        kind (ThresholdKind): What a threshold watches.
        value (str):
        invoice (bool | Unset):
        meter (str | Unset):
    """

    key: str
    kind: ThresholdKind
    value: str
    invoice: bool | Unset = UNSET
    meter: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        key = self.key

        kind = self.kind.value

        value = self.value

        invoice = self.invoice

        meter = self.meter

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "key": key,
                "kind": kind,
                "value": value,
            }
        )
        if invoice is not UNSET:
            field_dict["invoice"] = invoice
        if meter is not UNSET:
            field_dict["meter"] = meter

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        key = d.pop("key")

        kind = ThresholdKind(d.pop("kind"))

        value = d.pop("value")

        invoice = d.pop("invoice", UNSET)

        meter = d.pop("meter", UNSET)

        threshold_out = cls(
            key=key,
            kind=kind,
            value=value,
            invoice=invoice,
            meter=meter,
        )

        threshold_out.additional_properties = d
        return threshold_out

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

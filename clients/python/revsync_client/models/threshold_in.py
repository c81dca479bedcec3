from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.threshold_kind import ThresholdKind
from ..types import UNSET, Unset

T = TypeVar("T", bound="ThresholdIn")


@_attrs_define
class ThresholdIn:
    """A point in the usage period at which revsync tells once (docs/thresholds.md): ``usage``
    of a meter, ``percent`` of what the plan includes of a meter, or ``spend`` so far in the
    plan's currency (``invoice``: bill it at once on an interim invoice).

        Attributes:
            key (str):
            kind (ThresholdKind): What a threshold watches.
            value (float | int | str): A decimal string ("99.00") or a JSON number, read exactly from its text; at most 30
                digits before the point and 18 after.
            invoice (bool | None | Unset):
            meter (None | str | Unset):
    """

    key: str
    kind: ThresholdKind
    value: float | int | str
    invoice: bool | None | Unset = UNSET
    meter: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        key = self.key

        kind = self.kind.value

        value: float | int | str
        value = self.value

        invoice: bool | None | Unset
        if isinstance(self.invoice, Unset):
            invoice = UNSET
        else:
            invoice = self.invoice

        meter: None | str | Unset
        if isinstance(self.meter, Unset):
            meter = UNSET
        else:
            meter = self.meter

        field_dict: dict[str, Any] = {}

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

        def _parse_value(data: object) -> float | int | str:
            return cast(float | int | str, data)

        value = _parse_value(d.pop("value"))

        def _parse_invoice(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        invoice = _parse_invoice(d.pop("invoice", UNSET))

        def _parse_meter(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        meter = _parse_meter(d.pop("meter", UNSET))

        threshold_in = cls(
            key=key,
            kind=kind,
            value=value,
            invoice=invoice,
            meter=meter,
        )

        return threshold_in

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="TierIn")


@_attrs_define
class TierIn:
    """A tier; the last one has no ``up_to``.

    Attributes:
        unit_amount (float | int | str): A decimal string ("99.00") or a JSON number, read exactly from its text; at
            most 30 digits before the point and 18 after.
        flat_amount (float | int | None | str | Unset):
        up_to (float | int | None | str | Unset):
    """

    unit_amount: float | int | str
    flat_amount: float | int | None | str | Unset = UNSET
    up_to: float | int | None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        unit_amount: float | int | str
        unit_amount = self.unit_amount

        flat_amount: float | int | None | str | Unset
        if isinstance(self.flat_amount, Unset):
            flat_amount = UNSET
        else:
            flat_amount = self.flat_amount

        up_to: float | int | None | str | Unset
        if isinstance(self.up_to, Unset):
            up_to = UNSET
        else:
            up_to = self.up_to

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "unit_amount": unit_amount,
            }
        )
        if flat_amount is not UNSET:
            field_dict["flat_amount"] = flat_amount
        if up_to is not UNSET:
            field_dict["up_to"] = up_to

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_unit_amount(data: object) -> float | int | str:
            return cast(float | int | str, data)

        unit_amount = _parse_unit_amount(d.pop("unit_amount"))

        def _parse_flat_amount(data: object) -> float | int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | int | None | str | Unset, data)

        flat_amount = _parse_flat_amount(d.pop("flat_amount", UNSET))

        def _parse_up_to(data: object) -> float | int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | int | None | str | Unset, data)

        up_to = _parse_up_to(d.pop("up_to", UNSET))

        tier_in = cls(
            unit_amount=unit_amount,
            flat_amount=flat_amount,
            up_to=up_to,
        )

        return tier_in

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="ScopeIn")


@_attrs_define
class ScopeIn:
    """What a coupon or a prepaid credit grant is limited to: lines of these plans (codes,
    every version: fees, prorations, usage, minimum and cap) and usage lines of these meters
    (docs/billing.md, "Scopes"). Name at least one; leave the field out for the whole invoice.

        Attributes:
            meters (list[str] | None | Unset):
            plans (list[str] | None | Unset):
    """

    meters: list[str] | None | Unset = UNSET
    plans: list[str] | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        meters: list[str] | None | Unset
        if isinstance(self.meters, Unset):
            meters = UNSET
        elif isinstance(self.meters, list):
            meters = self.meters

        else:
            meters = self.meters

        plans: list[str] | None | Unset
        if isinstance(self.plans, Unset):
            plans = UNSET
        elif isinstance(self.plans, list):
            plans = self.plans

        else:
            plans = self.plans

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if meters is not UNSET:
            field_dict["meters"] = meters
        if plans is not UNSET:
            field_dict["plans"] = plans

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_meters(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                meters_type_0 = cast(list[str], data)

                return meters_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        meters = _parse_meters(d.pop("meters", UNSET))

        def _parse_plans(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                plans_type_0 = cast(list[str], data)

                return plans_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        plans = _parse_plans(d.pop("plans", UNSET))

        scope_in = cls(
            meters=meters,
            plans=plans,
        )

        return scope_in

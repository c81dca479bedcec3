from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.enforcement import Enforcement
from ..models.feature_kind import FeatureKind
from ..types import UNSET, Unset

T = TypeVar("T", bound="FeatureIn")


@_attrs_define
class FeatureIn:
    """What the plan entitles to (docs/entitlements.md): ``boolean``; ``quota`` of a meter per
    usage period (``limit``, ``hard`` or ``soft``); ``seats`` (optionally counted by a meter).

        Attributes:
            key (str):
            kind (FeatureKind): What a feature grants.
            enforcement (Enforcement | None | Unset):
            limit (float | int | None | str | Unset):
            meter (None | str | Unset):
    """

    key: str
    kind: FeatureKind
    enforcement: Enforcement | None | Unset = UNSET
    limit: float | int | None | str | Unset = UNSET
    meter: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        key = self.key

        kind = self.kind.value

        enforcement: None | str | Unset
        if isinstance(self.enforcement, Unset):
            enforcement = UNSET
        elif isinstance(self.enforcement, Enforcement):
            enforcement = self.enforcement.value
        else:
            enforcement = self.enforcement

        limit: float | int | None | str | Unset
        if isinstance(self.limit, Unset):
            limit = UNSET
        else:
            limit = self.limit

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
            }
        )
        if enforcement is not UNSET:
            field_dict["enforcement"] = enforcement
        if limit is not UNSET:
            field_dict["limit"] = limit
        if meter is not UNSET:
            field_dict["meter"] = meter

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        key = d.pop("key")

        kind = FeatureKind(d.pop("kind"))

        def _parse_enforcement(data: object) -> Enforcement | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                enforcement_type_0 = Enforcement(data)

                return enforcement_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Enforcement | None | Unset, data)

        enforcement = _parse_enforcement(d.pop("enforcement", UNSET))

        def _parse_limit(data: object) -> float | int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | int | None | str | Unset, data)

        limit = _parse_limit(d.pop("limit", UNSET))

        def _parse_meter(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        meter = _parse_meter(d.pop("meter", UNSET))

        feature_in = cls(
            key=key,
            kind=kind,
            enforcement=enforcement,
            limit=limit,
            meter=meter,
        )

        return feature_in

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.entitlement_reason import EntitlementReason
from ..models.feature_kind import FeatureKind
from ..models.policy import Policy
from ..types import UNSET, Unset

T = TypeVar("T", bound="EntitlementOut")


@_attrs_define
class EntitlementOut:
    """One feature: whether it may be used (``quantity`` more, for a check), and why.

    Attributes:
        allowed (bool):
        feature (str):
        kind (FeatureKind | None): Null when the plan does not have it.
        limit (None | str):
        reason (EntitlementReason): Why a check was answered so.
        remaining (None | str):
        used (None | str): This usage period so far.
        restriction (None | Policy | Unset): The collections restriction in force on the feature while invoices are
            overdue (soft_limit: held to the plan's limits; suspend: refused), null when none.
    """

    allowed: bool
    feature: str
    kind: FeatureKind | None
    limit: None | str
    reason: EntitlementReason
    remaining: None | str
    used: None | str
    restriction: None | Policy | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        allowed = self.allowed

        feature = self.feature

        kind: None | str
        if isinstance(self.kind, FeatureKind):
            kind = self.kind.value
        else:
            kind = self.kind

        limit: None | str
        limit = self.limit

        reason = self.reason.value

        remaining: None | str
        remaining = self.remaining

        used: None | str
        used = self.used

        restriction: None | str | Unset
        if isinstance(self.restriction, Unset):
            restriction = UNSET
        elif isinstance(self.restriction, Policy):
            restriction = self.restriction.value
        else:
            restriction = self.restriction

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "allowed": allowed,
                "feature": feature,
                "kind": kind,
                "limit": limit,
                "reason": reason,
                "remaining": remaining,
                "used": used,
            }
        )
        if restriction is not UNSET:
            field_dict["restriction"] = restriction

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        allowed = d.pop("allowed")

        feature = d.pop("feature")

        def _parse_kind(data: object) -> FeatureKind | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                kind_type_0 = FeatureKind(data)

                return kind_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(FeatureKind | None, data)

        kind = _parse_kind(d.pop("kind"))

        def _parse_limit(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        limit = _parse_limit(d.pop("limit"))

        reason = EntitlementReason(d.pop("reason"))

        def _parse_remaining(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        remaining = _parse_remaining(d.pop("remaining"))

        def _parse_used(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        used = _parse_used(d.pop("used"))

        def _parse_restriction(data: object) -> None | Policy | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                restriction_type_0 = Policy(data)

                return restriction_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Policy | Unset, data)

        restriction = _parse_restriction(d.pop("restriction", UNSET))

        entitlement_out = cls(
            allowed=allowed,
            feature=feature,
            kind=kind,
            limit=limit,
            reason=reason,
            remaining=remaining,
            used=used,
            restriction=restriction,
        )

        entitlement_out.additional_properties = d
        return entitlement_out

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

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.change import Change

T = TypeVar("T", bound="TermsOut")


@_attrs_define
class TermsOut:
    """A version of a subscription's terms.

    Attributes:
        change (Change): Why a version of the terms exists.
        effective (datetime.date):
        ends (datetime.date | None):
        plan (str):
        plan_version (int):
        seats (int):
        trial_end (datetime.date | None):
        version (int):
    """

    change: Change
    effective: datetime.date
    ends: datetime.date | None
    plan: str
    plan_version: int
    seats: int
    trial_end: datetime.date | None
    version: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        change = self.change.value

        effective = self.effective.isoformat()

        ends: None | str
        if isinstance(self.ends, datetime.date):
            ends = self.ends.isoformat()
        else:
            ends = self.ends

        plan = self.plan

        plan_version = self.plan_version

        seats = self.seats

        trial_end: None | str
        if isinstance(self.trial_end, datetime.date):
            trial_end = self.trial_end.isoformat()
        else:
            trial_end = self.trial_end

        version = self.version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "change": change,
                "effective": effective,
                "ends": ends,
                "plan": plan,
                "plan_version": plan_version,
                "seats": seats,
                "trial_end": trial_end,
                "version": version,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        change = Change(d.pop("change"))

        effective = datetime.date.fromisoformat(d.pop("effective"))

        def _parse_ends(data: object) -> datetime.date | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                ends_type_0 = datetime.date.fromisoformat(data)

                return ends_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None, data)

        ends = _parse_ends(d.pop("ends"))

        plan = d.pop("plan")

        plan_version = d.pop("plan_version")

        seats = d.pop("seats")

        def _parse_trial_end(data: object) -> datetime.date | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                trial_end_type_0 = datetime.date.fromisoformat(data)

                return trial_end_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None, data)

        trial_end = _parse_trial_end(d.pop("trial_end"))

        version = d.pop("version")

        terms_out = cls(
            change=change,
            effective=effective,
            ends=ends,
            plan=plan,
            plan_version=plan_version,
            seats=seats,
            trial_end=trial_end,
            version=version,
        )

        terms_out.additional_properties = d
        return terms_out

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

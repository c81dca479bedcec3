from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.change import Change
from ..types import UNSET, Unset

T = TypeVar("T", bound="AmendmentIn")


@_attrs_define
class AmendmentIn:
    """A change of the terms from ``effective`` on; ``plan``, ``seats``, ``trial_end`` or
    ``ends`` as the change needs.

        Attributes:
            change (Change): Why a version of the terms exists.
            effective (datetime.date):
            ends (datetime.date | None | Unset):
            plan (None | str | Unset):
            plan_version (int | None | Unset):
            seats (int | None | Unset):
            trial_end (datetime.date | None | Unset):
    """

    change: Change
    effective: datetime.date
    ends: datetime.date | None | Unset = UNSET
    plan: None | str | Unset = UNSET
    plan_version: int | None | Unset = UNSET
    seats: int | None | Unset = UNSET
    trial_end: datetime.date | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        change = self.change.value

        effective = self.effective.isoformat()

        ends: None | str | Unset
        if isinstance(self.ends, Unset):
            ends = UNSET
        elif isinstance(self.ends, datetime.date):
            ends = self.ends.isoformat()
        else:
            ends = self.ends

        plan: None | str | Unset
        if isinstance(self.plan, Unset):
            plan = UNSET
        else:
            plan = self.plan

        plan_version: int | None | Unset
        if isinstance(self.plan_version, Unset):
            plan_version = UNSET
        else:
            plan_version = self.plan_version

        seats: int | None | Unset
        if isinstance(self.seats, Unset):
            seats = UNSET
        else:
            seats = self.seats

        trial_end: None | str | Unset
        if isinstance(self.trial_end, Unset):
            trial_end = UNSET
        elif isinstance(self.trial_end, datetime.date):
            trial_end = self.trial_end.isoformat()
        else:
            trial_end = self.trial_end

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "change": change,
                "effective": effective,
            }
        )
        if ends is not UNSET:
            field_dict["ends"] = ends
        if plan is not UNSET:
            field_dict["plan"] = plan
        if plan_version is not UNSET:
            field_dict["plan_version"] = plan_version
        if seats is not UNSET:
            field_dict["seats"] = seats
        if trial_end is not UNSET:
            field_dict["trial_end"] = trial_end

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        change = Change(d.pop("change"))

        effective = datetime.date.fromisoformat(d.pop("effective"))

        def _parse_ends(data: object) -> datetime.date | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                ends_type_0 = datetime.date.fromisoformat(data)

                return ends_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None | Unset, data)

        ends = _parse_ends(d.pop("ends", UNSET))

        def _parse_plan(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        plan = _parse_plan(d.pop("plan", UNSET))

        def _parse_plan_version(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        plan_version = _parse_plan_version(d.pop("plan_version", UNSET))

        def _parse_seats(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        seats = _parse_seats(d.pop("seats", UNSET))

        def _parse_trial_end(data: object) -> datetime.date | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                trial_end_type_0 = datetime.date.fromisoformat(data)

                return trial_end_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None | Unset, data)

        trial_end = _parse_trial_end(d.pop("trial_end", UNSET))

        amendment_in = cls(
            change=change,
            effective=effective,
            ends=ends,
            plan=plan,
            plan_version=plan_version,
            seats=seats,
            trial_end=trial_end,
        )

        return amendment_in

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.coupon_use import CouponUse


T = TypeVar("T", bound="SubscriptionIn")


@_attrs_define
class SubscriptionIn:
    """A subscription to create (its id is in the path).

    Attributes:
        customer_id (str):
        plan (str): The plan's code.
        start (datetime.date):
        anchor (datetime.date | None | Unset):
        coupons (list[CouponUse] | Unset):
        ends (datetime.date | None | Unset):
        include_children (bool | Unset): Bill child accounts' usage. Default: False.
        plan_version (int | None | Unset): Default: the newest.
        renewal_date (datetime.date | None | Unset):
        seats (int | None | Unset):
        trial_end (datetime.date | None | Unset):
    """

    customer_id: str
    plan: str
    start: datetime.date
    anchor: datetime.date | None | Unset = UNSET
    coupons: list[CouponUse] | Unset = UNSET
    ends: datetime.date | None | Unset = UNSET
    include_children: bool | Unset = False
    plan_version: int | None | Unset = UNSET
    renewal_date: datetime.date | None | Unset = UNSET
    seats: int | None | Unset = UNSET
    trial_end: datetime.date | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        customer_id = self.customer_id

        plan = self.plan

        start = self.start.isoformat()

        anchor: None | str | Unset
        if isinstance(self.anchor, Unset):
            anchor = UNSET
        elif isinstance(self.anchor, datetime.date):
            anchor = self.anchor.isoformat()
        else:
            anchor = self.anchor

        coupons: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.coupons, Unset):
            coupons = []
            for coupons_item_data in self.coupons:
                coupons_item = coupons_item_data.to_dict()
                coupons.append(coupons_item)

        ends: None | str | Unset
        if isinstance(self.ends, Unset):
            ends = UNSET
        elif isinstance(self.ends, datetime.date):
            ends = self.ends.isoformat()
        else:
            ends = self.ends

        include_children = self.include_children

        plan_version: int | None | Unset
        if isinstance(self.plan_version, Unset):
            plan_version = UNSET
        else:
            plan_version = self.plan_version

        renewal_date: None | str | Unset
        if isinstance(self.renewal_date, Unset):
            renewal_date = UNSET
        elif isinstance(self.renewal_date, datetime.date):
            renewal_date = self.renewal_date.isoformat()
        else:
            renewal_date = self.renewal_date

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
                "customer_id": customer_id,
                "plan": plan,
                "start": start,
            }
        )
        if anchor is not UNSET:
            field_dict["anchor"] = anchor
        if coupons is not UNSET:
            field_dict["coupons"] = coupons
        if ends is not UNSET:
            field_dict["ends"] = ends
        if include_children is not UNSET:
            field_dict["include_children"] = include_children
        if plan_version is not UNSET:
            field_dict["plan_version"] = plan_version
        if renewal_date is not UNSET:
            field_dict["renewal_date"] = renewal_date
        if seats is not UNSET:
            field_dict["seats"] = seats
        if trial_end is not UNSET:
            field_dict["trial_end"] = trial_end

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.coupon_use import CouponUse  # noqa: PLC0415

        d = dict(src_dict)
        customer_id = d.pop("customer_id")

        plan = d.pop("plan")

        start = datetime.date.fromisoformat(d.pop("start"))

        def _parse_anchor(data: object) -> datetime.date | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                anchor_type_0 = datetime.date.fromisoformat(data)

                return anchor_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None | Unset, data)

        anchor = _parse_anchor(d.pop("anchor", UNSET))

        _coupons = d.pop("coupons", UNSET)
        coupons: list[CouponUse] | Unset = UNSET
        if _coupons is not UNSET:
            coupons = []
            for coupons_item_data in _coupons:
                coupons_item = CouponUse.from_dict(coupons_item_data)

                coupons.append(coupons_item)

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

        include_children = d.pop("include_children", UNSET)

        def _parse_plan_version(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        plan_version = _parse_plan_version(d.pop("plan_version", UNSET))

        def _parse_renewal_date(data: object) -> datetime.date | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                renewal_date_type_0 = datetime.date.fromisoformat(data)

                return renewal_date_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None | Unset, data)

        renewal_date = _parse_renewal_date(d.pop("renewal_date", UNSET))

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

        subscription_in = cls(
            customer_id=customer_id,
            plan=plan,
            start=start,
            anchor=anchor,
            coupons=coupons,
            ends=ends,
            include_children=include_children,
            plan_version=plan_version,
            renewal_date=renewal_date,
            seats=seats,
            trial_end=trial_end,
        )

        return subscription_in

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.interval import Interval

if TYPE_CHECKING:
    from ..models.calendar_out import CalendarOut
    from ..models.coupon_start import CouponStart
    from ..models.terms_out import TermsOut
    from ..models.threshold_out import ThresholdOut


T = TypeVar("T", bound="SubscriptionOut")


@_attrs_define
class SubscriptionOut:
    """A subscription with the history of its terms.

    Attributes:
        anchor (datetime.date): The anchor of the newest calendar (see ``calendars``).
        calendars (list[CalendarOut]): Every calendar of its periods, in order: a plan change to another interval starts
            a new one on its effective date.
        coupons (list[CouponStart]):
        customer_id (str):
        id (str):
        include_children (bool):
        interval (Interval): How long a billing period is.
        renewal_date (datetime.date | None):
        terms (list[TermsOut]):
        thresholds (list[ThresholdOut]): The subscription's own (its plan's are on the plan).
        usage_interval (Interval): How long a billing period is.
    """

    anchor: datetime.date
    calendars: list[CalendarOut]
    coupons: list[CouponStart]
    customer_id: str
    id: str
    include_children: bool
    interval: Interval
    renewal_date: datetime.date | None
    terms: list[TermsOut]
    thresholds: list[ThresholdOut]
    usage_interval: Interval
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        anchor = self.anchor.isoformat()

        calendars = []
        for calendars_item_data in self.calendars:
            calendars_item = calendars_item_data.to_dict()
            calendars.append(calendars_item)

        coupons = []
        for coupons_item_data in self.coupons:
            coupons_item = coupons_item_data.to_dict()
            coupons.append(coupons_item)

        customer_id = self.customer_id

        id = self.id

        include_children = self.include_children

        interval = self.interval.value

        renewal_date: None | str
        if isinstance(self.renewal_date, datetime.date):
            renewal_date = self.renewal_date.isoformat()
        else:
            renewal_date = self.renewal_date

        terms = []
        for terms_item_data in self.terms:
            terms_item = terms_item_data.to_dict()
            terms.append(terms_item)

        thresholds = []
        for thresholds_item_data in self.thresholds:
            thresholds_item = thresholds_item_data.to_dict()
            thresholds.append(thresholds_item)

        usage_interval = self.usage_interval.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "anchor": anchor,
                "calendars": calendars,
                "coupons": coupons,
                "customer_id": customer_id,
                "id": id,
                "include_children": include_children,
                "interval": interval,
                "renewal_date": renewal_date,
                "terms": terms,
                "thresholds": thresholds,
                "usage_interval": usage_interval,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.calendar_out import CalendarOut  # noqa: PLC0415
        from ..models.coupon_start import CouponStart  # noqa: PLC0415
        from ..models.terms_out import TermsOut  # noqa: PLC0415
        from ..models.threshold_out import ThresholdOut  # noqa: PLC0415

        d = dict(src_dict)
        anchor = datetime.date.fromisoformat(d.pop("anchor"))

        calendars = []
        _calendars = d.pop("calendars")
        for calendars_item_data in _calendars:
            calendars_item = CalendarOut.from_dict(calendars_item_data)

            calendars.append(calendars_item)

        coupons = []
        _coupons = d.pop("coupons")
        for coupons_item_data in _coupons:
            coupons_item = CouponStart.from_dict(coupons_item_data)

            coupons.append(coupons_item)

        customer_id = d.pop("customer_id")

        id = d.pop("id")

        include_children = d.pop("include_children")

        interval = Interval(d.pop("interval"))

        def _parse_renewal_date(data: object) -> datetime.date | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                renewal_date_type_0 = datetime.date.fromisoformat(data)

                return renewal_date_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None, data)

        renewal_date = _parse_renewal_date(d.pop("renewal_date"))

        terms = []
        _terms = d.pop("terms")
        for terms_item_data in _terms:
            terms_item = TermsOut.from_dict(terms_item_data)

            terms.append(terms_item)

        thresholds = []
        _thresholds = d.pop("thresholds")
        for thresholds_item_data in _thresholds:
            thresholds_item = ThresholdOut.from_dict(thresholds_item_data)

            thresholds.append(thresholds_item)

        usage_interval = Interval(d.pop("usage_interval"))

        subscription_out = cls(
            anchor=anchor,
            calendars=calendars,
            coupons=coupons,
            customer_id=customer_id,
            id=id,
            include_children=include_children,
            interval=interval,
            renewal_date=renewal_date,
            terms=terms,
            thresholds=thresholds,
            usage_interval=usage_interval,
        )

        subscription_out.additional_properties = d
        return subscription_out

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

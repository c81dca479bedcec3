from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="CouponApplication")


@_attrs_define
class CouponApplication:
    """
    Attributes:
        code (str):
        start (datetime.date):
    """

    code: str
    start: datetime.date

    def to_dict(self) -> dict[str, Any]:
        code = self.code

        start = self.start.isoformat()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "code": code,
                "start": start,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        code = d.pop("code")

        start = datetime.date.fromisoformat(d.pop("start"))

        coupon_application = cls(
            code=code,
            start=start,
        )

        return coupon_application

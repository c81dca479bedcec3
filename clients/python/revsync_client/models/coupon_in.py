from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.duration import Duration
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.scope_in import ScopeIn


T = TypeVar("T", bound="CouponIn")


@_attrs_define
class CouponIn:
    """A coupon definition (its code is in the path): ``percent_off``, or ``amount_off`` with
    ``currency``; ``applies_to`` limits it to plans and meters.

        Attributes:
            amount_off (float | int | None | str | Unset):
            applies_to (None | ScopeIn | Unset):
            currency (None | str | Unset):
            description (str | Unset):  Default: ''.
            duration (Duration | Unset): How many billing periods a coupon covers.
            percent_off (float | int | None | str | Unset):
            periods (int | None | Unset): With repeating.
    """

    amount_off: float | int | None | str | Unset = UNSET
    applies_to: None | ScopeIn | Unset = UNSET
    currency: None | str | Unset = UNSET
    description: str | Unset = ""
    duration: Duration | Unset = UNSET
    percent_off: float | int | None | str | Unset = UNSET
    periods: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.scope_in import ScopeIn  # noqa: PLC0415

        amount_off: float | int | None | str | Unset
        if isinstance(self.amount_off, Unset):
            amount_off = UNSET
        else:
            amount_off = self.amount_off

        applies_to: dict[str, Any] | None | Unset
        if isinstance(self.applies_to, Unset):
            applies_to = UNSET
        elif isinstance(self.applies_to, ScopeIn):
            applies_to = self.applies_to.to_dict()
        else:
            applies_to = self.applies_to

        currency: None | str | Unset
        if isinstance(self.currency, Unset):
            currency = UNSET
        else:
            currency = self.currency

        description = self.description

        duration: str | Unset = UNSET
        if not isinstance(self.duration, Unset):
            duration = self.duration.value

        percent_off: float | int | None | str | Unset
        if isinstance(self.percent_off, Unset):
            percent_off = UNSET
        else:
            percent_off = self.percent_off

        periods: int | None | Unset
        if isinstance(self.periods, Unset):
            periods = UNSET
        else:
            periods = self.periods

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if amount_off is not UNSET:
            field_dict["amount_off"] = amount_off
        if applies_to is not UNSET:
            field_dict["applies_to"] = applies_to
        if currency is not UNSET:
            field_dict["currency"] = currency
        if description is not UNSET:
            field_dict["description"] = description
        if duration is not UNSET:
            field_dict["duration"] = duration
        if percent_off is not UNSET:
            field_dict["percent_off"] = percent_off
        if periods is not UNSET:
            field_dict["periods"] = periods

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.scope_in import ScopeIn  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_amount_off(data: object) -> float | int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | int | None | str | Unset, data)

        amount_off = _parse_amount_off(d.pop("amount_off", UNSET))

        def _parse_applies_to(data: object) -> None | ScopeIn | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                applies_to_type_0 = ScopeIn.from_dict(data)

                return applies_to_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ScopeIn | Unset, data)

        applies_to = _parse_applies_to(d.pop("applies_to", UNSET))

        def _parse_currency(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        currency = _parse_currency(d.pop("currency", UNSET))

        description = d.pop("description", UNSET)

        _duration = d.pop("duration", UNSET)
        duration: Duration | Unset
        if isinstance(_duration, Unset):
            duration = UNSET
        else:
            duration = Duration(_duration)

        def _parse_percent_off(data: object) -> float | int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | int | None | str | Unset, data)

        percent_off = _parse_percent_off(d.pop("percent_off", UNSET))

        def _parse_periods(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        periods = _parse_periods(d.pop("periods", UNSET))

        coupon_in = cls(
            amount_off=amount_off,
            applies_to=applies_to,
            currency=currency,
            description=description,
            duration=duration,
            percent_off=percent_off,
            periods=periods,
        )

        return coupon_in

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.scope_in import ScopeIn


T = TypeVar("T", bound="CreditGrantIn")


@_attrs_define
class CreditGrantIn:
    """
    Attributes:
        amount (float | int | str): A decimal string ("99.00") or a JSON number, read exactly from its text; at most 30
            digits before the point and 18 after.
        currency (str):
        applies_to (None | ScopeIn | Unset):
        expires_on (datetime.date | None | Unset):
        granted_on (datetime.date | None | Unset):
        reason (str | Unset):  Default: ''.
    """

    amount: float | int | str
    currency: str
    applies_to: None | ScopeIn | Unset = UNSET
    expires_on: datetime.date | None | Unset = UNSET
    granted_on: datetime.date | None | Unset = UNSET
    reason: str | Unset = ""

    def to_dict(self) -> dict[str, Any]:
        from ..models.scope_in import ScopeIn  # noqa: PLC0415

        amount: float | int | str
        amount = self.amount

        currency = self.currency

        applies_to: dict[str, Any] | None | Unset
        if isinstance(self.applies_to, Unset):
            applies_to = UNSET
        elif isinstance(self.applies_to, ScopeIn):
            applies_to = self.applies_to.to_dict()
        else:
            applies_to = self.applies_to

        expires_on: None | str | Unset
        if isinstance(self.expires_on, Unset):
            expires_on = UNSET
        elif isinstance(self.expires_on, datetime.date):
            expires_on = self.expires_on.isoformat()
        else:
            expires_on = self.expires_on

        granted_on: None | str | Unset
        if isinstance(self.granted_on, Unset):
            granted_on = UNSET
        elif isinstance(self.granted_on, datetime.date):
            granted_on = self.granted_on.isoformat()
        else:
            granted_on = self.granted_on

        reason = self.reason

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "amount": amount,
                "currency": currency,
            }
        )
        if applies_to is not UNSET:
            field_dict["applies_to"] = applies_to
        if expires_on is not UNSET:
            field_dict["expires_on"] = expires_on
        if granted_on is not UNSET:
            field_dict["granted_on"] = granted_on
        if reason is not UNSET:
            field_dict["reason"] = reason

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.scope_in import ScopeIn  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_amount(data: object) -> float | int | str:
            return cast(float | int | str, data)

        amount = _parse_amount(d.pop("amount"))

        currency = d.pop("currency")

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

        def _parse_expires_on(data: object) -> datetime.date | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                expires_on_type_0 = datetime.date.fromisoformat(data)

                return expires_on_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None | Unset, data)

        expires_on = _parse_expires_on(d.pop("expires_on", UNSET))

        def _parse_granted_on(data: object) -> datetime.date | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                granted_on_type_0 = datetime.date.fromisoformat(data)

                return granted_on_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None | Unset, data)

        granted_on = _parse_granted_on(d.pop("granted_on", UNSET))

        reason = d.pop("reason", UNSET)

        credit_grant_in = cls(
            amount=amount,
            currency=currency,
            applies_to=applies_to,
            expires_on=expires_on,
            granted_on=granted_on,
            reason=reason,
        )

        return credit_grant_in

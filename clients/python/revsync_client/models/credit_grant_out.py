from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.scope_out import ScopeOut


T = TypeVar("T", bound="CreditGrantOut")


@_attrs_define
class CreditGrantOut:
    """
    Attributes:
        applies_to (None | ScopeOut): null: the grant pays any invoice line.
        currency (str):
        expires_on (datetime.date | None):
        granted_on (datetime.date):
        id (str):
        remaining (str):
    """

    applies_to: None | ScopeOut
    currency: str
    expires_on: datetime.date | None
    granted_on: datetime.date
    id: str
    remaining: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.scope_out import ScopeOut  # noqa: PLC0415

        applies_to: dict[str, Any] | None
        if isinstance(self.applies_to, ScopeOut):
            applies_to = self.applies_to.to_dict()
        else:
            applies_to = self.applies_to

        currency = self.currency

        expires_on: None | str
        if isinstance(self.expires_on, datetime.date):
            expires_on = self.expires_on.isoformat()
        else:
            expires_on = self.expires_on

        granted_on = self.granted_on.isoformat()

        id = self.id

        remaining = self.remaining

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "applies_to": applies_to,
                "currency": currency,
                "expires_on": expires_on,
                "granted_on": granted_on,
                "id": id,
                "remaining": remaining,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.scope_out import ScopeOut  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_applies_to(data: object) -> None | ScopeOut:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                applies_to_type_0 = ScopeOut.from_dict(data)

                return applies_to_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ScopeOut, data)

        applies_to = _parse_applies_to(d.pop("applies_to"))

        currency = d.pop("currency")

        def _parse_expires_on(data: object) -> datetime.date | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                expires_on_type_0 = datetime.date.fromisoformat(data)

                return expires_on_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None, data)

        expires_on = _parse_expires_on(d.pop("expires_on"))

        granted_on = datetime.date.fromisoformat(d.pop("granted_on"))

        id = d.pop("id")

        remaining = d.pop("remaining")

        credit_grant_out = cls(
            applies_to=applies_to,
            currency=currency,
            expires_on=expires_on,
            granted_on=granted_on,
            id=id,
            remaining=remaining,
        )

        credit_grant_out.additional_properties = d
        return credit_grant_out

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

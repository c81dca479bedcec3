from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.billing_error_out import BillingErrorOut


T = TypeVar("T", bound="BillingRunOut")


@_attrs_define
class BillingRunOut:
    """What a billing run did (invoice ids).

    Attributes:
        adjusted (list[str]):
        as_of (datetime.date):
        created (list[str]):
        errors (list[BillingErrorOut]):
        finalized (list[str]):
        id (str):
        unchanged (int):
        updated (list[str]):
    """

    adjusted: list[str]
    as_of: datetime.date
    created: list[str]
    errors: list[BillingErrorOut]
    finalized: list[str]
    id: str
    unchanged: int
    updated: list[str]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        adjusted = self.adjusted

        as_of = self.as_of.isoformat()

        created = self.created

        errors = []
        for errors_item_data in self.errors:
            errors_item = errors_item_data.to_dict()
            errors.append(errors_item)

        finalized = self.finalized

        id = self.id

        unchanged = self.unchanged

        updated = self.updated

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "adjusted": adjusted,
                "as_of": as_of,
                "created": created,
                "errors": errors,
                "finalized": finalized,
                "id": id,
                "unchanged": unchanged,
                "updated": updated,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.billing_error_out import BillingErrorOut  # noqa: PLC0415

        d = dict(src_dict)
        adjusted = cast(list[str], d.pop("adjusted"))

        as_of = datetime.date.fromisoformat(d.pop("as_of"))

        created = cast(list[str], d.pop("created"))

        errors = []
        _errors = d.pop("errors")
        for errors_item_data in _errors:
            errors_item = BillingErrorOut.from_dict(errors_item_data)

            errors.append(errors_item)

        finalized = cast(list[str], d.pop("finalized"))

        id = d.pop("id")

        unchanged = d.pop("unchanged")

        updated = cast(list[str], d.pop("updated"))

        billing_run_out = cls(
            adjusted=adjusted,
            as_of=as_of,
            created=created,
            errors=errors,
            finalized=finalized,
            id=id,
            unchanged=unchanged,
            updated=updated,
        )

        billing_run_out.additional_properties = d
        return billing_run_out

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

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="RerateLineOut")


@_attrs_define
class RerateLineOut:
    """One line key of a period, issued and re-rated.

    Attributes:
        description (str):
        difference (str):
        issued (str):
        issued_quantity (str):
        key (str):
        rerated (str):
        rerated_quantity (str):
    """

    description: str
    difference: str
    issued: str
    issued_quantity: str
    key: str
    rerated: str
    rerated_quantity: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        description = self.description

        difference = self.difference

        issued = self.issued

        issued_quantity = self.issued_quantity

        key = self.key

        rerated = self.rerated

        rerated_quantity = self.rerated_quantity

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "description": description,
                "difference": difference,
                "issued": issued,
                "issued_quantity": issued_quantity,
                "key": key,
                "rerated": rerated,
                "rerated_quantity": rerated_quantity,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        description = d.pop("description")

        difference = d.pop("difference")

        issued = d.pop("issued")

        issued_quantity = d.pop("issued_quantity")

        key = d.pop("key")

        rerated = d.pop("rerated")

        rerated_quantity = d.pop("rerated_quantity")

        rerate_line_out = cls(
            description=description,
            difference=difference,
            issued=issued,
            issued_quantity=issued_quantity,
            key=key,
            rerated=rerated,
            rerated_quantity=rerated_quantity,
        )

        rerate_line_out.additional_properties = d
        return rerate_line_out

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

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="ReleaseOut")


@_attrs_define
class ReleaseOut:
    """
    Attributes:
        accepted (int):
        duplicates (int):
        refused (int): Refused at ingestion now (dead letters of their own).
        released (int): Ingested again (and marked `released`).
        waiting (int): Left in quarantine: their type is still not declared.
    """

    accepted: int
    duplicates: int
    refused: int
    released: int
    waiting: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        accepted = self.accepted

        duplicates = self.duplicates

        refused = self.refused

        released = self.released

        waiting = self.waiting

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "accepted": accepted,
                "duplicates": duplicates,
                "refused": refused,
                "released": released,
                "waiting": waiting,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        accepted = d.pop("accepted")

        duplicates = d.pop("duplicates")

        refused = d.pop("refused")

        released = d.pop("released")

        waiting = d.pop("waiting")

        release_out = cls(
            accepted=accepted,
            duplicates=duplicates,
            refused=refused,
            released=released,
            waiting=waiting,
        )

        release_out.additional_properties = d
        return release_out

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

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="EventKey")


@_attrs_define
class EventKey:
    """
    Attributes:
        id (str):
        source (str):
    """

    id: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        source = self.source

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "source": source,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        source = d.pop("source")

        event_key = cls(
            id=id,
            source=source,
        )

        return event_key

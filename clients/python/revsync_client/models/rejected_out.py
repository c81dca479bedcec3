from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="RejectedOut")


@_attrs_define
class RejectedOut:
    """An item refused, with its position, a stable code and a reason naming the field.

    Attributes:
        code (str): See the table in docs/api.md (e.g. missing_field).
        id (None | str):
        index (int): 0-based position in the array, or line of the NDJSON body.
        reason (str):
    """

    code: str
    id: None | str
    index: int
    reason: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        code = self.code

        id: None | str
        id = self.id

        index = self.index

        reason = self.reason

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "id": id,
                "index": index,
                "reason": reason,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        code = d.pop("code")

        def _parse_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        id = _parse_id(d.pop("id"))

        index = d.pop("index")

        reason = d.pop("reason")

        rejected_out = cls(
            code=code,
            id=id,
            index=index,
            reason=reason,
        )

        rejected_out.additional_properties = d
        return rejected_out

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

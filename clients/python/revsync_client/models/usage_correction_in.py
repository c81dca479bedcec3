from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.cloud_event_in import CloudEventIn
    from ..models.event_key import EventKey


T = TypeVar("T", bound="UsageCorrectionIn")


@_attrs_define
class UsageCorrectionIn:
    """Events to void (by ``(source, id)``) and compensating events to add, with why.

    Attributes:
        add (list[CloudEventIn] | Unset):
        reason (str | Unset):  Default: ''.
        void (list[EventKey] | Unset):
    """

    add: list[CloudEventIn] | Unset = UNSET
    reason: str | Unset = ""
    void: list[EventKey] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        add: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.add, Unset):
            add = []
            for add_item_data in self.add:
                add_item = add_item_data.to_dict()
                add.append(add_item)

        reason = self.reason

        void: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.void, Unset):
            void = []
            for void_item_data in self.void:
                void_item = void_item_data.to_dict()
                void.append(void_item)

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if add is not UNSET:
            field_dict["add"] = add
        if reason is not UNSET:
            field_dict["reason"] = reason
        if void is not UNSET:
            field_dict["void"] = void

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.cloud_event_in import CloudEventIn  # noqa: PLC0415
        from ..models.event_key import EventKey  # noqa: PLC0415

        d = dict(src_dict)
        _add = d.pop("add", UNSET)
        add: list[CloudEventIn] | Unset = UNSET
        if _add is not UNSET:
            add = []
            for add_item_data in _add:
                add_item = CloudEventIn.from_dict(add_item_data)

                add.append(add_item)

        reason = d.pop("reason", UNSET)

        _void = d.pop("void", UNSET)
        void: list[EventKey] | Unset = UNSET
        if _void is not UNSET:
            void = []
            for void_item_data in _void:
                void_item = EventKey.from_dict(void_item_data)

                void.append(void_item)

        usage_correction_in = cls(
            add=add,
            reason=reason,
            void=void,
        )

        return usage_correction_in

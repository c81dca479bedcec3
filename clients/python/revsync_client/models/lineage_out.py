from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.lineage_out_group import LineageOutGroup
    from ..models.window_out import WindowOut


T = TypeVar("T", bound="LineageOut")


@_attrs_define
class LineageOut:
    """The usage behind a line.

    Attributes:
        customer_ids (list[str]):
        events (int):
        events_hash (str):
        group (LineageOutGroup):
        meter (str):
        window (WindowOut):
    """

    customer_ids: list[str]
    events: int
    events_hash: str
    group: LineageOutGroup
    meter: str
    window: WindowOut
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        customer_ids = self.customer_ids

        events = self.events

        events_hash = self.events_hash

        group = self.group.to_dict()

        meter = self.meter

        window = self.window.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "customer_ids": customer_ids,
                "events": events,
                "events_hash": events_hash,
                "group": group,
                "meter": meter,
                "window": window,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.lineage_out_group import LineageOutGroup  # noqa: PLC0415
        from ..models.window_out import WindowOut  # noqa: PLC0415

        d = dict(src_dict)
        customer_ids = cast(list[str], d.pop("customer_ids"))

        events = d.pop("events")

        events_hash = d.pop("events_hash")

        group = LineageOutGroup.from_dict(d.pop("group"))

        meter = d.pop("meter")

        window = WindowOut.from_dict(d.pop("window"))

        lineage_out = cls(
            customer_ids=customer_ids,
            events=events,
            events_hash=events_hash,
            group=group,
            meter=meter,
            window=window,
        )

        lineage_out.additional_properties = d
        return lineage_out

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

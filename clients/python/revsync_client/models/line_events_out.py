from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.line_event_out import LineEventOut
    from ..models.lineage_out import LineageOut


T = TypeVar("T", bound="LineEventsOut")


@_attrs_define
class LineEventsOut:
    """A page of the events a usage line counted.

    Attributes:
        items (list[LineEventOut]):
        lineage (LineageOut | None):
        next_cursor (int | None):
    """

    items: list[LineEventOut]
    lineage: LineageOut | None
    next_cursor: int | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.lineage_out import LineageOut  # noqa: PLC0415

        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        lineage: dict[str, Any] | None
        if isinstance(self.lineage, LineageOut):
            lineage = self.lineage.to_dict()
        else:
            lineage = self.lineage

        next_cursor: int | None
        next_cursor = self.next_cursor

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "items": items,
                "lineage": lineage,
                "next_cursor": next_cursor,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.line_event_out import LineEventOut  # noqa: PLC0415
        from ..models.lineage_out import LineageOut  # noqa: PLC0415

        d = dict(src_dict)
        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = LineEventOut.from_dict(items_item_data)

            items.append(items_item)

        def _parse_lineage(data: object) -> LineageOut | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                lineage_type_0 = LineageOut.from_dict(data)

                return lineage_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(LineageOut | None, data)

        lineage = _parse_lineage(d.pop("lineage"))

        def _parse_next_cursor(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        next_cursor = _parse_next_cursor(d.pop("next_cursor"))

        line_events_out = cls(
            items=items,
            lineage=lineage,
            next_cursor=next_cursor,
        )

        line_events_out.additional_properties = d
        return line_events_out

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

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.line_event_out_data import LineEventOutData


T = TypeVar("T", bound="LineEventOut")


@_attrs_define
class LineEventOut:
    """
    Attributes:
        customer_id (None | str):
        data (LineEventOutData):
        id (str):
        source (str):
        subject (str):
        time (datetime.datetime):
        type_ (str):
    """

    customer_id: None | str
    data: LineEventOutData
    id: str
    source: str
    subject: str
    time: datetime.datetime
    type_: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        customer_id: None | str
        customer_id = self.customer_id

        data = self.data.to_dict()

        id = self.id

        source = self.source

        subject = self.subject

        time = self.time.isoformat()

        type_ = self.type_

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "customer_id": customer_id,
                "data": data,
                "id": id,
                "source": source,
                "subject": subject,
                "time": time,
                "type": type_,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.line_event_out_data import LineEventOutData  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_customer_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        customer_id = _parse_customer_id(d.pop("customer_id"))

        data = LineEventOutData.from_dict(d.pop("data"))

        id = d.pop("id")

        source = d.pop("source")

        subject = d.pop("subject")

        time = datetime.datetime.fromisoformat(d.pop("time"))

        type_ = d.pop("type")

        line_event_out = cls(
            customer_id=customer_id,
            data=data,
            id=id,
            source=source,
            subject=subject,
            time=time,
            type_=type_,
        )

        line_event_out.additional_properties = d
        return line_event_out

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

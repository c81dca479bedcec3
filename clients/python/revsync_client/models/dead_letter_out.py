from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="DeadLetterOut")


@_attrs_define
class DeadLetterOut:
    """A refused input with its reason.

    Attributes:
        channel (str):
        code (None | str): why, as a stable code (docs/api.md); null for letters stored before 0.2
        correlation_id (None | str):
        event_id (None | str):
        event_source (None | str):
        id (int):
        payload (str):
        position (int | None):
        reason (str):
        received_at (datetime.datetime):
    """

    channel: str
    code: None | str
    correlation_id: None | str
    event_id: None | str
    event_source: None | str
    id: int
    payload: str
    position: int | None
    reason: str
    received_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        channel = self.channel

        code: None | str
        code = self.code

        correlation_id: None | str
        correlation_id = self.correlation_id

        event_id: None | str
        event_id = self.event_id

        event_source: None | str
        event_source = self.event_source

        id = self.id

        payload = self.payload

        position: int | None
        position = self.position

        reason = self.reason

        received_at = self.received_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "channel": channel,
                "code": code,
                "correlation_id": correlation_id,
                "event_id": event_id,
                "event_source": event_source,
                "id": id,
                "payload": payload,
                "position": position,
                "reason": reason,
                "received_at": received_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        channel = d.pop("channel")

        def _parse_code(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        code = _parse_code(d.pop("code"))

        def _parse_correlation_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        correlation_id = _parse_correlation_id(d.pop("correlation_id"))

        def _parse_event_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        event_id = _parse_event_id(d.pop("event_id"))

        def _parse_event_source(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        event_source = _parse_event_source(d.pop("event_source"))

        id = d.pop("id")

        payload = d.pop("payload")

        def _parse_position(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        position = _parse_position(d.pop("position"))

        reason = d.pop("reason")

        received_at = datetime.datetime.fromisoformat(d.pop("received_at"))

        dead_letter_out = cls(
            channel=channel,
            code=code,
            correlation_id=correlation_id,
            event_id=event_id,
            event_source=event_source,
            id=id,
            payload=payload,
            position=position,
            reason=reason,
            received_at=received_at,
        )

        dead_letter_out.additional_properties = d
        return dead_letter_out

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

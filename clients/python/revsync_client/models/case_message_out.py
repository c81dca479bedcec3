from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.message_status import MessageStatus

if TYPE_CHECKING:
    from ..models.case_message_out_payload import CaseMessageOutPayload


T = TypeVar("T", bound="CaseMessageOut")


@_attrs_define
class CaseMessageOut:
    """The message a delivery case holds, payload included.

    Attributes:
        aggregate (str):
        approved_by (None | str):
        created_at (datetime.datetime):
        destination (str):
        id (int):
        idempotency_key (str):
        kind (str):
        next_attempt_at (datetime.datetime):
        payload (CaseMessageOutPayload):
        status (MessageStatus): Where a message is in its delivery.
    """

    aggregate: str
    approved_by: None | str
    created_at: datetime.datetime
    destination: str
    id: int
    idempotency_key: str
    kind: str
    next_attempt_at: datetime.datetime
    payload: CaseMessageOutPayload
    status: MessageStatus
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        aggregate = self.aggregate

        approved_by: None | str
        approved_by = self.approved_by

        created_at = self.created_at.isoformat()

        destination = self.destination

        id = self.id

        idempotency_key = self.idempotency_key

        kind = self.kind

        next_attempt_at = self.next_attempt_at.isoformat()

        payload = self.payload.to_dict()

        status = self.status.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "aggregate": aggregate,
                "approved_by": approved_by,
                "created_at": created_at,
                "destination": destination,
                "id": id,
                "idempotency_key": idempotency_key,
                "kind": kind,
                "next_attempt_at": next_attempt_at,
                "payload": payload,
                "status": status,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.case_message_out_payload import CaseMessageOutPayload  # noqa: PLC0415

        d = dict(src_dict)
        aggregate = d.pop("aggregate")

        def _parse_approved_by(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        approved_by = _parse_approved_by(d.pop("approved_by"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        destination = d.pop("destination")

        id = d.pop("id")

        idempotency_key = d.pop("idempotency_key")

        kind = d.pop("kind")

        next_attempt_at = datetime.datetime.fromisoformat(d.pop("next_attempt_at"))

        payload = CaseMessageOutPayload.from_dict(d.pop("payload"))

        status = MessageStatus(d.pop("status"))

        case_message_out = cls(
            aggregate=aggregate,
            approved_by=approved_by,
            created_at=created_at,
            destination=destination,
            id=id,
            idempotency_key=idempotency_key,
            kind=kind,
            next_attempt_at=next_attempt_at,
            payload=payload,
            status=status,
        )

        case_message_out.additional_properties = d
        return case_message_out

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

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.case_kind import CaseKind
from ..models.case_status import CaseStatus

if TYPE_CHECKING:
    from ..models.case_object import CaseObject
    from ..models.case_out_details_type_0 import CaseOutDetailsType0


T = TypeVar("T", bound="CaseOut")


@_attrs_define
class CaseOut:
    """An exception case.

    Attributes:
        closed_at (datetime.datetime | None):
        closed_by (None | str):
        correlation_id (None | str):
        destination (None | str):
        details (CaseOutDetailsType0 | None):
        id (str):
        kind (CaseKind): What an exception case is about.
        last_error (None | str):
        message_id (int | None):
        object_ (CaseObject):
        opened_at (datetime.datetime):
        reason (None | str):
        status (CaseStatus): Where an exception case is.
        updated_at (datetime.datetime):
    """

    closed_at: datetime.datetime | None
    closed_by: None | str
    correlation_id: None | str
    destination: None | str
    details: CaseOutDetailsType0 | None
    id: str
    kind: CaseKind
    last_error: None | str
    message_id: int | None
    object_: CaseObject
    opened_at: datetime.datetime
    reason: None | str
    status: CaseStatus
    updated_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.case_out_details_type_0 import CaseOutDetailsType0  # noqa: PLC0415

        closed_at: None | str
        if isinstance(self.closed_at, datetime.datetime):
            closed_at = self.closed_at.isoformat()
        else:
            closed_at = self.closed_at

        closed_by: None | str
        closed_by = self.closed_by

        correlation_id: None | str
        correlation_id = self.correlation_id

        destination: None | str
        destination = self.destination

        details: dict[str, Any] | None
        if isinstance(self.details, CaseOutDetailsType0):
            details = self.details.to_dict()
        else:
            details = self.details

        id = self.id

        kind = self.kind.value

        last_error: None | str
        last_error = self.last_error

        message_id: int | None
        message_id = self.message_id

        object_ = self.object_.to_dict()

        opened_at = self.opened_at.isoformat()

        reason: None | str
        reason = self.reason

        status = self.status.value

        updated_at = self.updated_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "closed_at": closed_at,
                "closed_by": closed_by,
                "correlation_id": correlation_id,
                "destination": destination,
                "details": details,
                "id": id,
                "kind": kind,
                "last_error": last_error,
                "message_id": message_id,
                "object": object_,
                "opened_at": opened_at,
                "reason": reason,
                "status": status,
                "updated_at": updated_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.case_object import CaseObject  # noqa: PLC0415
        from ..models.case_out_details_type_0 import CaseOutDetailsType0  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_closed_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                closed_at_type_0 = datetime.datetime.fromisoformat(data)

                return closed_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        closed_at = _parse_closed_at(d.pop("closed_at"))

        def _parse_closed_by(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        closed_by = _parse_closed_by(d.pop("closed_by"))

        def _parse_correlation_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        correlation_id = _parse_correlation_id(d.pop("correlation_id"))

        def _parse_destination(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        destination = _parse_destination(d.pop("destination"))

        def _parse_details(data: object) -> CaseOutDetailsType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                details_type_0 = CaseOutDetailsType0.from_dict(data)

                return details_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CaseOutDetailsType0 | None, data)

        details = _parse_details(d.pop("details"))

        id = d.pop("id")

        kind = CaseKind(d.pop("kind"))

        def _parse_last_error(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        last_error = _parse_last_error(d.pop("last_error"))

        def _parse_message_id(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        message_id = _parse_message_id(d.pop("message_id"))

        object_ = CaseObject.from_dict(d.pop("object"))

        opened_at = datetime.datetime.fromisoformat(d.pop("opened_at"))

        def _parse_reason(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        reason = _parse_reason(d.pop("reason"))

        status = CaseStatus(d.pop("status"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        case_out = cls(
            closed_at=closed_at,
            closed_by=closed_by,
            correlation_id=correlation_id,
            destination=destination,
            details=details,
            id=id,
            kind=kind,
            last_error=last_error,
            message_id=message_id,
            object_=object_,
            opened_at=opened_at,
            reason=reason,
            status=status,
            updated_at=updated_at,
        )

        case_out.additional_properties = d
        return case_out

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

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.event_key import EventKey
    from ..models.ingest_report_out import IngestReportOut


T = TypeVar("T", bound="CorrectionOut")


@_attrs_define
class CorrectionOut:
    """
    Attributes:
        added (IngestReportOut | None):
        already_voided (list[EventKey]):
        id (str):
        voided (list[EventKey]):
    """

    added: IngestReportOut | None
    already_voided: list[EventKey]
    id: str
    voided: list[EventKey]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.ingest_report_out import IngestReportOut  # noqa: PLC0415

        added: dict[str, Any] | None
        if isinstance(self.added, IngestReportOut):
            added = self.added.to_dict()
        else:
            added = self.added

        already_voided = []
        for already_voided_item_data in self.already_voided:
            already_voided_item = already_voided_item_data.to_dict()
            already_voided.append(already_voided_item)

        id = self.id

        voided = []
        for voided_item_data in self.voided:
            voided_item = voided_item_data.to_dict()
            voided.append(voided_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "added": added,
                "already_voided": already_voided,
                "id": id,
                "voided": voided,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.event_key import EventKey  # noqa: PLC0415
        from ..models.ingest_report_out import IngestReportOut  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_added(data: object) -> IngestReportOut | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                added_type_0 = IngestReportOut.from_dict(data)

                return added_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(IngestReportOut | None, data)

        added = _parse_added(d.pop("added"))

        already_voided = []
        _already_voided = d.pop("already_voided")
        for already_voided_item_data in _already_voided:
            already_voided_item = EventKey.from_dict(already_voided_item_data)

            already_voided.append(already_voided_item)

        id = d.pop("id")

        voided = []
        _voided = d.pop("voided")
        for voided_item_data in _voided:
            voided_item = EventKey.from_dict(voided_item_data)

            voided.append(voided_item)

        correction_out = cls(
            added=added,
            already_voided=already_voided,
            id=id,
            voided=voided,
        )

        correction_out.additional_properties = d
        return correction_out

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

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.rejected_out import RejectedOut


T = TypeVar("T", bound="IngestReportOut")


@_attrs_define
class IngestReportOut:
    """What became of each item of a batch.

    Attributes:
        accepted (int): Stored now (unmapped and late ones included).
        duplicates (int):
        late (int):
        rejected (list[RejectedOut]):
        unmapped (int):
        quarantined (int | Unset): Events of types without a schema kept aside (a source's unknown-type policy
            `quarantine`); present when not 0. Default: 0.
    """

    accepted: int
    duplicates: int
    late: int
    rejected: list[RejectedOut]
    unmapped: int
    quarantined: int | Unset = 0
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        accepted = self.accepted

        duplicates = self.duplicates

        late = self.late

        rejected = []
        for rejected_item_data in self.rejected:
            rejected_item = rejected_item_data.to_dict()
            rejected.append(rejected_item)

        unmapped = self.unmapped

        quarantined = self.quarantined

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "accepted": accepted,
                "duplicates": duplicates,
                "late": late,
                "rejected": rejected,
                "unmapped": unmapped,
            }
        )
        if quarantined is not UNSET:
            field_dict["quarantined"] = quarantined

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.rejected_out import RejectedOut  # noqa: PLC0415

        d = dict(src_dict)
        accepted = d.pop("accepted")

        duplicates = d.pop("duplicates")

        late = d.pop("late")

        rejected = []
        _rejected = d.pop("rejected")
        for rejected_item_data in _rejected:
            rejected_item = RejectedOut.from_dict(rejected_item_data)

            rejected.append(rejected_item)

        unmapped = d.pop("unmapped")

        quarantined = d.pop("quarantined", UNSET)

        ingest_report_out = cls(
            accepted=accepted,
            duplicates=duplicates,
            late=late,
            rejected=rejected,
            unmapped=unmapped,
            quarantined=quarantined,
        )

        ingest_report_out.additional_properties = d
        return ingest_report_out

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

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.finding_out_ours import FindingOutOurs
    from ..models.finding_out_theirs import FindingOutTheirs


T = TypeVar("T", bound="FindingOut")


@_attrs_define
class FindingOut:
    """One discrepancy with both sides' values.

    Attributes:
        key (str): Names the discrepancy from run to run (and its case).
        kind (str):
        message (str):
        object_id (str):
        object_type (str):
        ours (FindingOutOurs):
        theirs (FindingOutTheirs):
    """

    key: str
    kind: str
    message: str
    object_id: str
    object_type: str
    ours: FindingOutOurs
    theirs: FindingOutTheirs
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        key = self.key

        kind = self.kind

        message = self.message

        object_id = self.object_id

        object_type = self.object_type

        ours = self.ours.to_dict()

        theirs = self.theirs.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "key": key,
                "kind": kind,
                "message": message,
                "object_id": object_id,
                "object_type": object_type,
                "ours": ours,
                "theirs": theirs,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.finding_out_ours import FindingOutOurs  # noqa: PLC0415
        from ..models.finding_out_theirs import FindingOutTheirs  # noqa: PLC0415

        d = dict(src_dict)
        key = d.pop("key")

        kind = d.pop("kind")

        message = d.pop("message")

        object_id = d.pop("object_id")

        object_type = d.pop("object_type")

        ours = FindingOutOurs.from_dict(d.pop("ours"))

        theirs = FindingOutTheirs.from_dict(d.pop("theirs"))

        finding_out = cls(
            key=key,
            kind=kind,
            message=message,
            object_id=object_id,
            object_type=object_type,
            ours=ours,
            theirs=theirs,
        )

        finding_out.additional_properties = d
        return finding_out

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

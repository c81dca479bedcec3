from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="JobLeaseOut")


@_attrs_define
class JobLeaseOut:
    """A worker job's lease: whether a worker holds it now, and when its last run started.

    Attributes:
        held (bool): a worker runs it now (its lease has not run out)
        last_started_at (datetime.datetime | None):
        lease_until (datetime.datetime | None):
        name (str):
    """

    held: bool
    last_started_at: datetime.datetime | None
    lease_until: datetime.datetime | None
    name: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        held = self.held

        last_started_at: None | str
        if isinstance(self.last_started_at, datetime.datetime):
            last_started_at = self.last_started_at.isoformat()
        else:
            last_started_at = self.last_started_at

        lease_until: None | str
        if isinstance(self.lease_until, datetime.datetime):
            lease_until = self.lease_until.isoformat()
        else:
            lease_until = self.lease_until

        name = self.name

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "held": held,
                "last_started_at": last_started_at,
                "lease_until": lease_until,
                "name": name,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        held = d.pop("held")

        def _parse_last_started_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                last_started_at_type_0 = datetime.datetime.fromisoformat(data)

                return last_started_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        last_started_at = _parse_last_started_at(d.pop("last_started_at"))

        def _parse_lease_until(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                lease_until_type_0 = datetime.datetime.fromisoformat(data)

                return lease_until_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        lease_until = _parse_lease_until(d.pop("lease_until"))

        name = d.pop("name")

        job_lease_out = cls(
            held=held,
            last_started_at=last_started_at,
            lease_until=lease_until,
            name=name,
        )

        job_lease_out.additional_properties = d
        return job_lease_out

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

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.job_lease_out import JobLeaseOut


T = TypeVar("T", bound="Readiness")


@_attrs_define
class Readiness:
    """Whether this process can serve: its database answers, at the schema it expects; and
    the worker jobs' leases (they do not decide readiness: an API process serves without a
    worker).

        Attributes:
            database (str): the dialect, or unreachable
            expected_revision (None | str): the revision this revsync ships
            schema_revision (None | str): the database's migration revision
            status (str): ready, or unavailable (answered 503)
            jobs (list[JobLeaseOut] | Unset):
    """

    database: str
    expected_revision: None | str
    schema_revision: None | str
    status: str
    jobs: list[JobLeaseOut] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        database = self.database

        expected_revision: None | str
        expected_revision = self.expected_revision

        schema_revision: None | str
        schema_revision = self.schema_revision

        status = self.status

        jobs: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.jobs, Unset):
            jobs = []
            for jobs_item_data in self.jobs:
                jobs_item = jobs_item_data.to_dict()
                jobs.append(jobs_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "database": database,
                "expected_revision": expected_revision,
                "schema_revision": schema_revision,
                "status": status,
            }
        )
        if jobs is not UNSET:
            field_dict["jobs"] = jobs

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.job_lease_out import JobLeaseOut  # noqa: PLC0415

        d = dict(src_dict)
        database = d.pop("database")

        def _parse_expected_revision(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        expected_revision = _parse_expected_revision(d.pop("expected_revision"))

        def _parse_schema_revision(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        schema_revision = _parse_schema_revision(d.pop("schema_revision"))

        status = d.pop("status")

        _jobs = d.pop("jobs", UNSET)
        jobs: list[JobLeaseOut] | Unset = UNSET
        if _jobs is not UNSET:
            jobs = []
            for jobs_item_data in _jobs:
                jobs_item = JobLeaseOut.from_dict(jobs_item_data)

                jobs.append(jobs_item)

        readiness = cls(
            database=database,
            expected_revision=expected_revision,
            schema_revision=schema_revision,
            status=status,
            jobs=jobs,
        )

        readiness.additional_properties = d
        return readiness

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

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.check import Check

if TYPE_CHECKING:
    from ..models.finding_out import FindingOut
    from ..models.reconciliation_out_checked import ReconciliationOutChecked
    from ..models.reconciliation_out_counts import ReconciliationOutCounts


T = TypeVar("T", bound="ReconciliationOut")


@_attrs_define
class ReconciliationOut:
    """A reconciliation run.

    Attributes:
        actor (str):
        cases_closed (list[str]):
        cases_opened (list[str]):
        checked (ReconciliationOutChecked): Per check, the documents or lines compared.
        checks (list[Check]):
        clean (bool):
        counts (ReconciliationOutCounts): Findings per kind.
        findings (list[FindingOut]):
        finished_at (str):
        id (str):
        since (datetime.date):
        started_at (str):
    """

    actor: str
    cases_closed: list[str]
    cases_opened: list[str]
    checked: ReconciliationOutChecked
    checks: list[Check]
    clean: bool
    counts: ReconciliationOutCounts
    findings: list[FindingOut]
    finished_at: str
    id: str
    since: datetime.date
    started_at: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        actor = self.actor

        cases_closed = self.cases_closed

        cases_opened = self.cases_opened

        checked = self.checked.to_dict()

        checks = []
        for checks_item_data in self.checks:
            checks_item = checks_item_data.value
            checks.append(checks_item)

        clean = self.clean

        counts = self.counts.to_dict()

        findings = []
        for findings_item_data in self.findings:
            findings_item = findings_item_data.to_dict()
            findings.append(findings_item)

        finished_at = self.finished_at

        id = self.id

        since = self.since.isoformat()

        started_at = self.started_at

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "actor": actor,
                "cases_closed": cases_closed,
                "cases_opened": cases_opened,
                "checked": checked,
                "checks": checks,
                "clean": clean,
                "counts": counts,
                "findings": findings,
                "finished_at": finished_at,
                "id": id,
                "since": since,
                "started_at": started_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.finding_out import FindingOut  # noqa: PLC0415
        from ..models.reconciliation_out_checked import ReconciliationOutChecked  # noqa: PLC0415
        from ..models.reconciliation_out_counts import ReconciliationOutCounts  # noqa: PLC0415

        d = dict(src_dict)
        actor = d.pop("actor")

        cases_closed = cast(list[str], d.pop("cases_closed"))

        cases_opened = cast(list[str], d.pop("cases_opened"))

        checked = ReconciliationOutChecked.from_dict(d.pop("checked"))

        checks = []
        _checks = d.pop("checks")
        for checks_item_data in _checks:
            checks_item = Check(checks_item_data)

            checks.append(checks_item)

        clean = d.pop("clean")

        counts = ReconciliationOutCounts.from_dict(d.pop("counts"))

        findings = []
        _findings = d.pop("findings")
        for findings_item_data in _findings:
            findings_item = FindingOut.from_dict(findings_item_data)

            findings.append(findings_item)

        finished_at = d.pop("finished_at")

        id = d.pop("id")

        since = datetime.date.fromisoformat(d.pop("since"))

        started_at = d.pop("started_at")

        reconciliation_out = cls(
            actor=actor,
            cases_closed=cases_closed,
            cases_opened=cases_opened,
            checked=checked,
            checks=checks,
            clean=clean,
            counts=counts,
            findings=findings,
            finished_at=finished_at,
            id=id,
            since=since,
            started_at=started_at,
        )

        reconciliation_out.additional_properties = d
        return reconciliation_out

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

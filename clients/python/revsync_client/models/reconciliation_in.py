from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.check import Check
from ..types import UNSET, Unset

T = TypeVar("T", bound="ReconciliationIn")


@_attrs_define
class ReconciliationIn:
    """What to compare.

    Attributes:
        checks (list[Check] | None | Unset): Default: `usage`, and `erp` and `crm` when they are configured.
        since (datetime.date | None | Unset): Documents issued on or after (default: 90 days ago).
    """

    checks: list[Check] | None | Unset = UNSET
    since: datetime.date | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        checks: list[str] | None | Unset
        if isinstance(self.checks, Unset):
            checks = UNSET
        elif isinstance(self.checks, list):
            checks = []
            for checks_type_0_item_data in self.checks:
                checks_type_0_item = checks_type_0_item_data.value
                checks.append(checks_type_0_item)

        else:
            checks = self.checks

        since: None | str | Unset
        if isinstance(self.since, Unset):
            since = UNSET
        elif isinstance(self.since, datetime.date):
            since = self.since.isoformat()
        else:
            since = self.since

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if checks is not UNSET:
            field_dict["checks"] = checks
        if since is not UNSET:
            field_dict["since"] = since

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_checks(data: object) -> list[Check] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                checks_type_0 = []
                _checks_type_0 = data
                for checks_type_0_item_data in _checks_type_0:
                    checks_type_0_item = Check(checks_type_0_item_data)

                    checks_type_0.append(checks_type_0_item)

                return checks_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[Check] | None | Unset, data)

        checks = _parse_checks(d.pop("checks", UNSET))

        def _parse_since(data: object) -> datetime.date | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                since_type_0 = datetime.date.fromisoformat(data)

                return since_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None | Unset, data)

        since = _parse_since(d.pop("since", UNSET))

        reconciliation_in = cls(
            checks=checks,
            since=since,
        )

        return reconciliation_in

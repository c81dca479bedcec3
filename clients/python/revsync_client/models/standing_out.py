from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.restriction_out import RestrictionOut


T = TypeVar("T", bound="StandingOut")


@_attrs_define
class StandingOut:
    """A customer on the collections ladder.

    Attributes:
        customer_id (str):
        level (int): The highest ERP dunning level among its overdue invoices.
        restriction (None | RestrictionOut):
        since (datetime.date | None): When this time on the ladder began.
        tasks (list[int]): The rungs whose CRM task is open.
        tickets_flagged (bool):
        updated_at (datetime.datetime): When it last moved.
    """

    customer_id: str
    level: int
    restriction: None | RestrictionOut
    since: datetime.date | None
    tasks: list[int]
    tickets_flagged: bool
    updated_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.restriction_out import RestrictionOut  # noqa: PLC0415

        customer_id = self.customer_id

        level = self.level

        restriction: dict[str, Any] | None
        if isinstance(self.restriction, RestrictionOut):
            restriction = self.restriction.to_dict()
        else:
            restriction = self.restriction

        since: None | str
        if isinstance(self.since, datetime.date):
            since = self.since.isoformat()
        else:
            since = self.since

        tasks = self.tasks

        tickets_flagged = self.tickets_flagged

        updated_at = self.updated_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "customer_id": customer_id,
                "level": level,
                "restriction": restriction,
                "since": since,
                "tasks": tasks,
                "tickets_flagged": tickets_flagged,
                "updated_at": updated_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.restriction_out import RestrictionOut  # noqa: PLC0415

        d = dict(src_dict)
        customer_id = d.pop("customer_id")

        level = d.pop("level")

        def _parse_restriction(data: object) -> None | RestrictionOut:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                restriction_type_0 = RestrictionOut.from_dict(data)

                return restriction_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RestrictionOut, data)

        restriction = _parse_restriction(d.pop("restriction"))

        def _parse_since(data: object) -> datetime.date | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                since_type_0 = datetime.date.fromisoformat(data)

                return since_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.date | None, data)

        since = _parse_since(d.pop("since"))

        tasks = cast(list[int], d.pop("tasks"))

        tickets_flagged = d.pop("tickets_flagged")

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        standing_out = cls(
            customer_id=customer_id,
            level=level,
            restriction=restriction,
            since=since,
            tasks=tasks,
            tickets_flagged=tickets_flagged,
            updated_at=updated_at,
        )

        standing_out.additional_properties = d
        return standing_out

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

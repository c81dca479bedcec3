from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.candidate_plan_in import CandidatePlanIn


T = TypeVar("T", bound="RerateIn")


@_attrs_define
class RerateIn:
    """What to re-rate (docs/billing.md, "Shadow re-rating").

    Attributes:
        from_ (datetime.date): The first day whose periods are rated.
        plan (CandidatePlanIn | str): The candidate: a stored plan, `CODE` (its newest version) or `CODE@VERSION`; or a
            plan not stored, as an object.
        to (datetime.date): The last day (inclusive) whose periods are rated; at most 366 days after `from`.
        customers (list[str] | None | Unset): Only these customers (default: every customer on the plan replaced).
        detail (bool | Unset): false: each customer's totals only (no periods and lines). Default: True.
        replaces (None | str | Unset): The plan code whose subscriptions the candidate takes (default: its own).
        top (int | Unset): How many customers each ranking lists. Default: 10.
    """

    from_: datetime.date
    plan: CandidatePlanIn | str
    to: datetime.date
    customers: list[str] | None | Unset = UNSET
    detail: bool | Unset = True
    replaces: None | str | Unset = UNSET
    top: int | Unset = 10

    def to_dict(self) -> dict[str, Any]:
        from ..models.candidate_plan_in import CandidatePlanIn  # noqa: PLC0415

        from_ = self.from_.isoformat()

        plan: dict[str, Any] | str
        if isinstance(self.plan, CandidatePlanIn):
            plan = self.plan.to_dict()
        else:
            plan = self.plan

        to = self.to.isoformat()

        customers: list[str] | None | Unset
        if isinstance(self.customers, Unset):
            customers = UNSET
        elif isinstance(self.customers, list):
            customers = self.customers

        else:
            customers = self.customers

        detail = self.detail

        replaces: None | str | Unset
        if isinstance(self.replaces, Unset):
            replaces = UNSET
        else:
            replaces = self.replaces

        top = self.top

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "from": from_,
                "plan": plan,
                "to": to,
            }
        )
        if customers is not UNSET:
            field_dict["customers"] = customers
        if detail is not UNSET:
            field_dict["detail"] = detail
        if replaces is not UNSET:
            field_dict["replaces"] = replaces
        if top is not UNSET:
            field_dict["top"] = top

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.candidate_plan_in import CandidatePlanIn  # noqa: PLC0415

        d = dict(src_dict)
        from_ = datetime.date.fromisoformat(d.pop("from"))

        def _parse_plan(data: object) -> CandidatePlanIn | str:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                plan_type_1 = CandidatePlanIn.from_dict(data)

                return plan_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CandidatePlanIn | str, data)

        plan = _parse_plan(d.pop("plan"))

        to = datetime.date.fromisoformat(d.pop("to"))

        def _parse_customers(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                customers_type_0 = cast(list[str], data)

                return customers_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        customers = _parse_customers(d.pop("customers", UNSET))

        detail = d.pop("detail", UNSET)

        def _parse_replaces(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        replaces = _parse_replaces(d.pop("replaces", UNSET))

        top = d.pop("top", UNSET)

        rerate_in = cls(
            from_=from_,
            plan=plan,
            to=to,
            customers=customers,
            detail=detail,
            replaces=replaces,
            top=top,
        )

        return rerate_in

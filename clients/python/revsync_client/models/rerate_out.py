from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.rerate_customer_out import RerateCustomerOut
    from ..models.rerate_error_out import RerateErrorOut
    from ..models.rerate_top_out import RerateTopOut
    from ..models.rerate_totals_out import RerateTotalsOut


T = TypeVar("T", bound="RerateOut")


@_attrs_define
class RerateOut:
    """A shadow re-rate: amounts before tax, in the candidate's currency; nothing written.

    Attributes:
        currency (str):
        customers (list[RerateCustomerOut]):
        errors (list[RerateErrorOut]):
        from_ (datetime.date):
        plan (str): The candidate, `code@version`.
        replaces (str):
        stored (bool): false: a definition not stored (its would-be version).
        tax (str): `excluded`: the figures are before tax.
        to (datetime.date):
        top (RerateTopOut): The customers moved most (either way): in money, and in proportion of what they were
            issued.
        totals (RerateTotalsOut):
        usage_cutoff_seq (int): The usage read: events up to this sequence.
    """

    currency: str
    customers: list[RerateCustomerOut]
    errors: list[RerateErrorOut]
    from_: datetime.date
    plan: str
    replaces: str
    stored: bool
    tax: str
    to: datetime.date
    top: RerateTopOut
    totals: RerateTotalsOut
    usage_cutoff_seq: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        currency = self.currency

        customers = []
        for customers_item_data in self.customers:
            customers_item = customers_item_data.to_dict()
            customers.append(customers_item)

        errors = []
        for errors_item_data in self.errors:
            errors_item = errors_item_data.to_dict()
            errors.append(errors_item)

        from_ = self.from_.isoformat()

        plan = self.plan

        replaces = self.replaces

        stored = self.stored

        tax = self.tax

        to = self.to.isoformat()

        top = self.top.to_dict()

        totals = self.totals.to_dict()

        usage_cutoff_seq = self.usage_cutoff_seq

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "currency": currency,
                "customers": customers,
                "errors": errors,
                "from": from_,
                "plan": plan,
                "replaces": replaces,
                "stored": stored,
                "tax": tax,
                "to": to,
                "top": top,
                "totals": totals,
                "usage_cutoff_seq": usage_cutoff_seq,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.rerate_customer_out import RerateCustomerOut  # noqa: PLC0415
        from ..models.rerate_error_out import RerateErrorOut  # noqa: PLC0415
        from ..models.rerate_top_out import RerateTopOut  # noqa: PLC0415
        from ..models.rerate_totals_out import RerateTotalsOut  # noqa: PLC0415

        d = dict(src_dict)
        currency = d.pop("currency")

        customers = []
        _customers = d.pop("customers")
        for customers_item_data in _customers:
            customers_item = RerateCustomerOut.from_dict(customers_item_data)

            customers.append(customers_item)

        errors = []
        _errors = d.pop("errors")
        for errors_item_data in _errors:
            errors_item = RerateErrorOut.from_dict(errors_item_data)

            errors.append(errors_item)

        from_ = datetime.date.fromisoformat(d.pop("from"))

        plan = d.pop("plan")

        replaces = d.pop("replaces")

        stored = d.pop("stored")

        tax = d.pop("tax")

        to = datetime.date.fromisoformat(d.pop("to"))

        top = RerateTopOut.from_dict(d.pop("top"))

        totals = RerateTotalsOut.from_dict(d.pop("totals"))

        usage_cutoff_seq = d.pop("usage_cutoff_seq")

        rerate_out = cls(
            currency=currency,
            customers=customers,
            errors=errors,
            from_=from_,
            plan=plan,
            replaces=replaces,
            stored=stored,
            tax=tax,
            to=to,
            top=top,
            totals=totals,
            usage_cutoff_seq=usage_cutoff_seq,
        )

        rerate_out.additional_properties = d
        return rerate_out

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

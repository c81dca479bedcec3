from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.service_period import ServicePeriod


T = TypeVar("T", bound="DeferredLineOut")


@_attrs_define
class DeferredLineOut:
    """A fee recognised over its service period.

    Attributes:
        amount (str):
        deferred (str): Left to recognise.
        description (str):
        invoice_id (str):
        line_key (str):
        number (None | str):
        recognised (str): In the months before as_of's month.
        service (ServicePeriod):
    """

    amount: str
    deferred: str
    description: str
    invoice_id: str
    line_key: str
    number: None | str
    recognised: str
    service: ServicePeriod
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        amount = self.amount

        deferred = self.deferred

        description = self.description

        invoice_id = self.invoice_id

        line_key = self.line_key

        number: None | str
        number = self.number

        recognised = self.recognised

        service = self.service.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "amount": amount,
                "deferred": deferred,
                "description": description,
                "invoice_id": invoice_id,
                "line_key": line_key,
                "number": number,
                "recognised": recognised,
                "service": service,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.service_period import ServicePeriod  # noqa: PLC0415

        d = dict(src_dict)
        amount = d.pop("amount")

        deferred = d.pop("deferred")

        description = d.pop("description")

        invoice_id = d.pop("invoice_id")

        line_key = d.pop("line_key")

        def _parse_number(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        number = _parse_number(d.pop("number"))

        recognised = d.pop("recognised")

        service = ServicePeriod.from_dict(d.pop("service"))

        deferred_line_out = cls(
            amount=amount,
            deferred=deferred,
            description=description,
            invoice_id=invoice_id,
            line_key=line_key,
            number=number,
            recognised=recognised,
            service=service,
        )

        deferred_line_out.additional_properties = d
        return deferred_line_out

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

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.invoice_kind import InvoiceKind

if TYPE_CHECKING:
    from ..models.period_out import PeriodOut
    from ..models.rerate_line_out import RerateLineOut


T = TypeVar("T", bound="ReratePeriodOut")


@_attrs_define
class ReratePeriodOut:
    """A period of a subscription: its advance or arrears invoice, issued and re-rated.

    Attributes:
        difference (str):
        invoice_id (str):
        issued (str):
        kind (InvoiceKind): What an invoice bills.
        lines (list[RerateLineOut]):
        number (None | str): The issued invoice's; null when none was issued.
        period (PeriodOut):
        rerated (str):
        subscription_id (str):
    """

    difference: str
    invoice_id: str
    issued: str
    kind: InvoiceKind
    lines: list[RerateLineOut]
    number: None | str
    period: PeriodOut
    rerated: str
    subscription_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        difference = self.difference

        invoice_id = self.invoice_id

        issued = self.issued

        kind = self.kind.value

        lines = []
        for lines_item_data in self.lines:
            lines_item = lines_item_data.to_dict()
            lines.append(lines_item)

        number: None | str
        number = self.number

        period = self.period.to_dict()

        rerated = self.rerated

        subscription_id = self.subscription_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "difference": difference,
                "invoice_id": invoice_id,
                "issued": issued,
                "kind": kind,
                "lines": lines,
                "number": number,
                "period": period,
                "rerated": rerated,
                "subscription_id": subscription_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.period_out import PeriodOut  # noqa: PLC0415
        from ..models.rerate_line_out import RerateLineOut  # noqa: PLC0415

        d = dict(src_dict)
        difference = d.pop("difference")

        invoice_id = d.pop("invoice_id")

        issued = d.pop("issued")

        kind = InvoiceKind(d.pop("kind"))

        lines = []
        _lines = d.pop("lines")
        for lines_item_data in _lines:
            lines_item = RerateLineOut.from_dict(lines_item_data)

            lines.append(lines_item)

        def _parse_number(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        number = _parse_number(d.pop("number"))

        period = PeriodOut.from_dict(d.pop("period"))

        rerated = d.pop("rerated")

        subscription_id = d.pop("subscription_id")

        rerate_period_out = cls(
            difference=difference,
            invoice_id=invoice_id,
            issued=issued,
            kind=kind,
            lines=lines,
            number=number,
            period=period,
            rerated=rerated,
            subscription_id=subscription_id,
        )

        rerate_period_out.additional_properties = d
        return rerate_period_out

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

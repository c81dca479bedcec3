from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.invoice_kind import InvoiceKind
from ..models.invoice_out_document import InvoiceOutDocument
from ..models.invoice_status import InvoiceStatus

if TYPE_CHECKING:
    from ..models.line_out import LineOut
    from ..models.period_out import PeriodOut
    from ..models.tax_out import TaxOut
    from ..models.totals_out import TotalsOut


T = TypeVar("T", bound="InvoiceOut")


@_attrs_define
class InvoiceOut:
    """An invoice or a credit note.

    Attributes:
        consolidated_into (None | str): Billed on a consolidated invoice (billing.consolidate): its id. Such an invoice
            has no number of its own; the consolidated one is voided and credited.
        credits_invoice (None | str): A credit note: the invoice it credits.
        currency (str):
        customer_id (str):
        document (InvoiceOutDocument):
        id (str):
        issue_date (datetime.date):
        kind (InvoiceKind): What an invoice bills.
        lines (list[LineOut]):
        number (None | str): Once finalized.
        period (PeriodOut):
        status (InvoiceStatus): Draft → finalized → posted → paid, or void.
        subscription_id (None | str):
        taxes (list[TaxOut]):
        totals (TotalsOut):
    """

    consolidated_into: None | str
    credits_invoice: None | str
    currency: str
    customer_id: str
    document: InvoiceOutDocument
    id: str
    issue_date: datetime.date
    kind: InvoiceKind
    lines: list[LineOut]
    number: None | str
    period: PeriodOut
    status: InvoiceStatus
    subscription_id: None | str
    taxes: list[TaxOut]
    totals: TotalsOut
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        consolidated_into: None | str
        consolidated_into = self.consolidated_into

        credits_invoice: None | str
        credits_invoice = self.credits_invoice

        currency = self.currency

        customer_id = self.customer_id

        document = self.document.value

        id = self.id

        issue_date = self.issue_date.isoformat()

        kind = self.kind.value

        lines = []
        for lines_item_data in self.lines:
            lines_item = lines_item_data.to_dict()
            lines.append(lines_item)

        number: None | str
        number = self.number

        period = self.period.to_dict()

        status = self.status.value

        subscription_id: None | str
        subscription_id = self.subscription_id

        taxes = []
        for taxes_item_data in self.taxes:
            taxes_item = taxes_item_data.to_dict()
            taxes.append(taxes_item)

        totals = self.totals.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "consolidated_into": consolidated_into,
                "credits_invoice": credits_invoice,
                "currency": currency,
                "customer_id": customer_id,
                "document": document,
                "id": id,
                "issue_date": issue_date,
                "kind": kind,
                "lines": lines,
                "number": number,
                "period": period,
                "status": status,
                "subscription_id": subscription_id,
                "taxes": taxes,
                "totals": totals,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.line_out import LineOut  # noqa: PLC0415
        from ..models.period_out import PeriodOut  # noqa: PLC0415
        from ..models.tax_out import TaxOut  # noqa: PLC0415
        from ..models.totals_out import TotalsOut  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_consolidated_into(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        consolidated_into = _parse_consolidated_into(d.pop("consolidated_into"))

        def _parse_credits_invoice(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        credits_invoice = _parse_credits_invoice(d.pop("credits_invoice"))

        currency = d.pop("currency")

        customer_id = d.pop("customer_id")

        document = InvoiceOutDocument(d.pop("document"))

        id = d.pop("id")

        issue_date = datetime.date.fromisoformat(d.pop("issue_date"))

        kind = InvoiceKind(d.pop("kind"))

        lines = []
        _lines = d.pop("lines")
        for lines_item_data in _lines:
            lines_item = LineOut.from_dict(lines_item_data)

            lines.append(lines_item)

        def _parse_number(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        number = _parse_number(d.pop("number"))

        period = PeriodOut.from_dict(d.pop("period"))

        status = InvoiceStatus(d.pop("status"))

        def _parse_subscription_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        subscription_id = _parse_subscription_id(d.pop("subscription_id"))

        taxes = []
        _taxes = d.pop("taxes")
        for taxes_item_data in _taxes:
            taxes_item = TaxOut.from_dict(taxes_item_data)

            taxes.append(taxes_item)

        totals = TotalsOut.from_dict(d.pop("totals"))

        invoice_out = cls(
            consolidated_into=consolidated_into,
            credits_invoice=credits_invoice,
            currency=currency,
            customer_id=customer_id,
            document=document,
            id=id,
            issue_date=issue_date,
            kind=kind,
            lines=lines,
            number=number,
            period=period,
            status=status,
            subscription_id=subscription_id,
            taxes=taxes,
            totals=totals,
        )

        invoice_out.additional_properties = d
        return invoice_out

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

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.line_kind import LineKind

if TYPE_CHECKING:
    from ..models.lineage_out import LineageOut
    from ..models.period_out import PeriodOut


T = TypeVar("T", bound="LineOut")


@_attrs_define
class LineOut:
    """
    Attributes:
        adjusts (None | str): <invoice id>/<line key> of an adjusted line
        amount (str):
        charge (str):
        description (str):
        key (str):
        kind (LineKind): Where a line comes from.
        lineage (LineageOut | None):
        quantity (str):
        service (PeriodOut):
        tax_code (str):
        unit_amount (str):
    """

    adjusts: None | str
    amount: str
    charge: str
    description: str
    key: str
    kind: LineKind
    lineage: LineageOut | None
    quantity: str
    service: PeriodOut
    tax_code: str
    unit_amount: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.lineage_out import LineageOut  # noqa: PLC0415

        adjusts: None | str
        adjusts = self.adjusts

        amount = self.amount

        charge = self.charge

        description = self.description

        key = self.key

        kind = self.kind.value

        lineage: dict[str, Any] | None
        if isinstance(self.lineage, LineageOut):
            lineage = self.lineage.to_dict()
        else:
            lineage = self.lineage

        quantity = self.quantity

        service = self.service.to_dict()

        tax_code = self.tax_code

        unit_amount = self.unit_amount

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "adjusts": adjusts,
                "amount": amount,
                "charge": charge,
                "description": description,
                "key": key,
                "kind": kind,
                "lineage": lineage,
                "quantity": quantity,
                "service": service,
                "tax_code": tax_code,
                "unit_amount": unit_amount,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.lineage_out import LineageOut  # noqa: PLC0415
        from ..models.period_out import PeriodOut  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_adjusts(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        adjusts = _parse_adjusts(d.pop("adjusts"))

        amount = d.pop("amount")

        charge = d.pop("charge")

        description = d.pop("description")

        key = d.pop("key")

        kind = LineKind(d.pop("kind"))

        def _parse_lineage(data: object) -> LineageOut | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                lineage_type_0 = LineageOut.from_dict(data)

                return lineage_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(LineageOut | None, data)

        lineage = _parse_lineage(d.pop("lineage"))

        quantity = d.pop("quantity")

        service = PeriodOut.from_dict(d.pop("service"))

        tax_code = d.pop("tax_code")

        unit_amount = d.pop("unit_amount")

        line_out = cls(
            adjusts=adjusts,
            amount=amount,
            charge=charge,
            description=description,
            key=key,
            kind=kind,
            lineage=lineage,
            quantity=quantity,
            service=service,
            tax_code=tax_code,
            unit_amount=unit_amount,
        )

        line_out.additional_properties = d
        return line_out

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

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="ExternalRefs")


@_attrs_define
class ExternalRefs:
    """A customer's references in outside systems.

    Attributes:
        crm (None | str | Unset): CRM account id.
        erp (None | str | Unset): ERP customer id.
        product (list[str] | Unset): Product tenant ids (event `subject`).
        support (None | str | Unset): Support tool organization id.
    """

    crm: None | str | Unset = UNSET
    erp: None | str | Unset = UNSET
    product: list[str] | Unset = UNSET
    support: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        crm: None | str | Unset
        if isinstance(self.crm, Unset):
            crm = UNSET
        else:
            crm = self.crm

        erp: None | str | Unset
        if isinstance(self.erp, Unset):
            erp = UNSET
        else:
            erp = self.erp

        product: list[str] | Unset = UNSET
        if not isinstance(self.product, Unset):
            product = self.product

        support: None | str | Unset
        if isinstance(self.support, Unset):
            support = UNSET
        else:
            support = self.support

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if crm is not UNSET:
            field_dict["crm"] = crm
        if erp is not UNSET:
            field_dict["erp"] = erp
        if product is not UNSET:
            field_dict["product"] = product
        if support is not UNSET:
            field_dict["support"] = support

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_crm(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        crm = _parse_crm(d.pop("crm", UNSET))

        def _parse_erp(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        erp = _parse_erp(d.pop("erp", UNSET))

        product = cast(list[str], d.pop("product", UNSET))

        def _parse_support(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        support = _parse_support(d.pop("support", UNSET))

        external_refs = cls(
            crm=crm,
            erp=erp,
            product=product,
            support=support,
        )

        return external_refs

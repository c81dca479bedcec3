from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.external_refs import ExternalRefs


T = TypeVar("T", bound="CustomerIn")


@_attrs_define
class CustomerIn:
    """A customer as written with PUT.

    Attributes:
        currency (str): ISO 4217 code, e.g. EUR.
        name (str):
        country (None | str | Unset): ISO 3166-1 alpha-2, for tax (e.g. FR).
        external_refs (ExternalRefs | Unset): A customer's references in outside systems.
        parent_id (None | str | Unset): Parent customer in the account hierarchy.
        tax_exempt (bool | Unset): No tax on this customer's invoices. Default: False.
        timezone (str | Unset): IANA zone, e.g. Europe/Paris. Default: 'UTC'.
    """

    currency: str
    name: str
    country: None | str | Unset = UNSET
    external_refs: ExternalRefs | Unset = UNSET
    parent_id: None | str | Unset = UNSET
    tax_exempt: bool | Unset = False
    timezone: str | Unset = "UTC"

    def to_dict(self) -> dict[str, Any]:
        currency = self.currency

        name = self.name

        country: None | str | Unset
        if isinstance(self.country, Unset):
            country = UNSET
        else:
            country = self.country

        external_refs: dict[str, Any] | Unset = UNSET
        if not isinstance(self.external_refs, Unset):
            external_refs = self.external_refs.to_dict()

        parent_id: None | str | Unset
        if isinstance(self.parent_id, Unset):
            parent_id = UNSET
        else:
            parent_id = self.parent_id

        tax_exempt = self.tax_exempt

        timezone = self.timezone

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "currency": currency,
                "name": name,
            }
        )
        if country is not UNSET:
            field_dict["country"] = country
        if external_refs is not UNSET:
            field_dict["external_refs"] = external_refs
        if parent_id is not UNSET:
            field_dict["parent_id"] = parent_id
        if tax_exempt is not UNSET:
            field_dict["tax_exempt"] = tax_exempt
        if timezone is not UNSET:
            field_dict["timezone"] = timezone

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.external_refs import ExternalRefs  # noqa: PLC0415

        d = dict(src_dict)
        currency = d.pop("currency")

        name = d.pop("name")

        def _parse_country(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        country = _parse_country(d.pop("country", UNSET))

        _external_refs = d.pop("external_refs", UNSET)
        external_refs: ExternalRefs | Unset
        if isinstance(_external_refs, Unset):
            external_refs = UNSET
        else:
            external_refs = ExternalRefs.from_dict(_external_refs)

        def _parse_parent_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        parent_id = _parse_parent_id(d.pop("parent_id", UNSET))

        tax_exempt = d.pop("tax_exempt", UNSET)

        timezone = d.pop("timezone", UNSET)

        customer_in = cls(
            currency=currency,
            name=name,
            country=country,
            external_refs=external_refs,
            parent_id=parent_id,
            tax_exempt=tax_exempt,
            timezone=timezone,
        )

        return customer_in

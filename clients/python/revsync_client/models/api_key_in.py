from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="ApiKeyIn")


@_attrs_define
class ApiKeyIn:
    """A key to issue.

    Attributes:
        name (str):
        customers (list[str] | Unset): Limit the key to these customers and their descendants (roles ingest and read
            only); empty: every customer.
        roles (list[str] | Unset): Any of ingest, read, finance, ops, metrics, admin (docs/governance.md).
        scopes (list[str] | Unset): The former name of ``roles``.
    """

    name: str
    customers: list[str] | Unset = UNSET
    roles: list[str] | Unset = UNSET
    scopes: list[str] | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        customers: list[str] | Unset = UNSET
        if not isinstance(self.customers, Unset):
            customers = self.customers

        roles: list[str] | Unset = UNSET
        if not isinstance(self.roles, Unset):
            roles = self.roles

        scopes: list[str] | Unset = UNSET
        if not isinstance(self.scopes, Unset):
            scopes = self.scopes

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
            }
        )
        if customers is not UNSET:
            field_dict["customers"] = customers
        if roles is not UNSET:
            field_dict["roles"] = roles
        if scopes is not UNSET:
            field_dict["scopes"] = scopes

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        customers = cast(list[str], d.pop("customers", UNSET))

        roles = cast(list[str], d.pop("roles", UNSET))

        scopes = cast(list[str], d.pop("scopes", UNSET))

        api_key_in = cls(
            name=name,
            customers=customers,
            roles=roles,
            scopes=scopes,
        )

        return api_key_in

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.credit_grant_out import CreditGrantOut
    from ..models.wallet_out_balances import WalletOutBalances


T = TypeVar("T", bound="WalletOut")


@_attrs_define
class WalletOut:
    """
    Attributes:
        balances (WalletOutBalances): currency → usable credit
        grants (list[CreditGrantOut]):
    """

    balances: WalletOutBalances
    grants: list[CreditGrantOut]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        balances = self.balances.to_dict()

        grants = []
        for grants_item_data in self.grants:
            grants_item = grants_item_data.to_dict()
            grants.append(grants_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "balances": balances,
                "grants": grants,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.credit_grant_out import CreditGrantOut  # noqa: PLC0415
        from ..models.wallet_out_balances import WalletOutBalances  # noqa: PLC0415

        d = dict(src_dict)
        balances = WalletOutBalances.from_dict(d.pop("balances"))

        grants = []
        _grants = d.pop("grants")
        for grants_item_data in _grants:
            grants_item = CreditGrantOut.from_dict(grants_item_data)

            grants.append(grants_item)

        wallet_out = cls(
            balances=balances,
            grants=grants,
        )

        wallet_out.additional_properties = d
        return wallet_out

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

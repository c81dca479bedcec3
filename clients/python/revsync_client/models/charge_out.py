from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.charge_model import ChargeModel
from ..models.timing import Timing
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.charge_out_prices import ChargeOutPrices
    from ..models.tier_out import TierOut


T = TypeVar("T", bound="ChargeOut")


@_attrs_define
class ChargeOut:
    """A charge as stored; fields without a value are left out.

    Attributes:
        description (str):
        key (str):
        model (ChargeModel): How a charge turns a quantity into an amount.
        tax_code (str):
        timing (Timing): Whether a charge is billed at the start of its period or after it.
        amount (str | Unset):
        default_price (str | Unset):
        dimension (str | Unset):
        fixed_amount (str | Unset):
        flat_fee_at_zero (bool | Unset):
        free_amount (str | Unset):
        free_transactions (int | Unset):
        included (str | Unset):
        max_per_transaction (str | Unset):
        meter (str | Unset):
        min_per_transaction (str | Unset):
        minimum (str | Unset):
        package_size (str | Unset):
        prices (ChargeOutPrices | Unset):
        rate (str | Unset):
        tiers (list[TierOut] | Unset):
    """

    description: str
    key: str
    model: ChargeModel
    tax_code: str
    timing: Timing
    amount: str | Unset = UNSET
    default_price: str | Unset = UNSET
    dimension: str | Unset = UNSET
    fixed_amount: str | Unset = UNSET
    flat_fee_at_zero: bool | Unset = UNSET
    free_amount: str | Unset = UNSET
    free_transactions: int | Unset = UNSET
    included: str | Unset = UNSET
    max_per_transaction: str | Unset = UNSET
    meter: str | Unset = UNSET
    min_per_transaction: str | Unset = UNSET
    minimum: str | Unset = UNSET
    package_size: str | Unset = UNSET
    prices: ChargeOutPrices | Unset = UNSET
    rate: str | Unset = UNSET
    tiers: list[TierOut] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        description = self.description

        key = self.key

        model = self.model.value

        tax_code = self.tax_code

        timing = self.timing.value

        amount = self.amount

        default_price = self.default_price

        dimension = self.dimension

        fixed_amount = self.fixed_amount

        flat_fee_at_zero = self.flat_fee_at_zero

        free_amount = self.free_amount

        free_transactions = self.free_transactions

        included = self.included

        max_per_transaction = self.max_per_transaction

        meter = self.meter

        min_per_transaction = self.min_per_transaction

        minimum = self.minimum

        package_size = self.package_size

        prices: dict[str, Any] | Unset = UNSET
        if not isinstance(self.prices, Unset):
            prices = self.prices.to_dict()

        rate = self.rate

        tiers: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.tiers, Unset):
            tiers = []
            for tiers_item_data in self.tiers:
                tiers_item = tiers_item_data.to_dict()
                tiers.append(tiers_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "description": description,
                "key": key,
                "model": model,
                "tax_code": tax_code,
                "timing": timing,
            }
        )
        if amount is not UNSET:
            field_dict["amount"] = amount
        if default_price is not UNSET:
            field_dict["default_price"] = default_price
        if dimension is not UNSET:
            field_dict["dimension"] = dimension
        if fixed_amount is not UNSET:
            field_dict["fixed_amount"] = fixed_amount
        if flat_fee_at_zero is not UNSET:
            field_dict["flat_fee_at_zero"] = flat_fee_at_zero
        if free_amount is not UNSET:
            field_dict["free_amount"] = free_amount
        if free_transactions is not UNSET:
            field_dict["free_transactions"] = free_transactions
        if included is not UNSET:
            field_dict["included"] = included
        if max_per_transaction is not UNSET:
            field_dict["max_per_transaction"] = max_per_transaction
        if meter is not UNSET:
            field_dict["meter"] = meter
        if min_per_transaction is not UNSET:
            field_dict["min_per_transaction"] = min_per_transaction
        if minimum is not UNSET:
            field_dict["minimum"] = minimum
        if package_size is not UNSET:
            field_dict["package_size"] = package_size
        if prices is not UNSET:
            field_dict["prices"] = prices
        if rate is not UNSET:
            field_dict["rate"] = rate
        if tiers is not UNSET:
            field_dict["tiers"] = tiers

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.charge_out_prices import ChargeOutPrices  # noqa: PLC0415
        from ..models.tier_out import TierOut  # noqa: PLC0415

        d = dict(src_dict)
        description = d.pop("description")

        key = d.pop("key")

        model = ChargeModel(d.pop("model"))

        tax_code = d.pop("tax_code")

        timing = Timing(d.pop("timing"))

        amount = d.pop("amount", UNSET)

        default_price = d.pop("default_price", UNSET)

        dimension = d.pop("dimension", UNSET)

        fixed_amount = d.pop("fixed_amount", UNSET)

        flat_fee_at_zero = d.pop("flat_fee_at_zero", UNSET)

        free_amount = d.pop("free_amount", UNSET)

        free_transactions = d.pop("free_transactions", UNSET)

        included = d.pop("included", UNSET)

        max_per_transaction = d.pop("max_per_transaction", UNSET)

        meter = d.pop("meter", UNSET)

        min_per_transaction = d.pop("min_per_transaction", UNSET)

        minimum = d.pop("minimum", UNSET)

        package_size = d.pop("package_size", UNSET)

        _prices = d.pop("prices", UNSET)
        prices: ChargeOutPrices | Unset
        if isinstance(_prices, Unset):
            prices = UNSET
        else:
            prices = ChargeOutPrices.from_dict(_prices)

        rate = d.pop("rate", UNSET)

        _tiers = d.pop("tiers", UNSET)
        tiers: list[TierOut] | Unset = UNSET
        if _tiers is not UNSET:
            tiers = []
            for tiers_item_data in _tiers:
                tiers_item = TierOut.from_dict(tiers_item_data)

                tiers.append(tiers_item)

        charge_out = cls(
            description=description,
            key=key,
            model=model,
            tax_code=tax_code,
            timing=timing,
            amount=amount,
            default_price=default_price,
            dimension=dimension,
            fixed_amount=fixed_amount,
            flat_fee_at_zero=flat_fee_at_zero,
            free_amount=free_amount,
            free_transactions=free_transactions,
            included=included,
            max_per_transaction=max_per_transaction,
            meter=meter,
            min_per_transaction=min_per_transaction,
            minimum=minimum,
            package_size=package_size,
            prices=prices,
            rate=rate,
            tiers=tiers,
        )

        charge_out.additional_properties = d
        return charge_out

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

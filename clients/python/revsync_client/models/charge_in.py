from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.charge_model import ChargeModel
from ..models.timing import Timing
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.charge_in_prices_type_0 import ChargeInPricesType0
    from ..models.tier_in import TierIn


T = TypeVar("T", bound="ChargeIn")


@_attrs_define
class ChargeIn:
    """A priced item; which fields it needs depends on its ``model`` (docs/billing.md).

    Attributes:
        description (str):
        key (str):
        model (ChargeModel): How a charge turns a quantity into an amount.
        amount (float | int | None | str | Unset):
        default_price (float | int | None | str | Unset):
        dimension (None | str | Unset):
        fixed_amount (float | int | None | str | Unset): percentage: a fixed amount per charged transaction
        flat_fee_at_zero (bool | None | Unset): graduated: the first tier's flat amount at zero usage too
        free_amount (float | int | None | str | Unset): percentage: the period's first free transaction amount
        free_transactions (int | None | Unset): percentage: the period's first free ones
        included (float | int | None | str | Unset):
        max_per_transaction (float | int | None | str | Unset):
        meter (None | str | Unset):
        min_per_transaction (float | int | None | str | Unset):
        minimum (float | int | None | str | Unset): usage charges: the least it bills per usage period
        package_size (float | int | None | str | Unset):
        prices (ChargeInPricesType0 | None | Unset): dimension value → price
        rate (float | int | None | str | Unset): percentage: percent per transaction
        tax_code (None | str | Unset):
        tiers (list[TierIn] | None | Unset):
        timing (None | Timing | Unset):
    """

    description: str
    key: str
    model: ChargeModel
    amount: float | int | None | str | Unset = UNSET
    default_price: float | int | None | str | Unset = UNSET
    dimension: None | str | Unset = UNSET
    fixed_amount: float | int | None | str | Unset = UNSET
    flat_fee_at_zero: bool | None | Unset = UNSET
    free_amount: float | int | None | str | Unset = UNSET
    free_transactions: int | None | Unset = UNSET
    included: float | int | None | str | Unset = UNSET
    max_per_transaction: float | int | None | str | Unset = UNSET
    meter: None | str | Unset = UNSET
    min_per_transaction: float | int | None | str | Unset = UNSET
    minimum: float | int | None | str | Unset = UNSET
    package_size: float | int | None | str | Unset = UNSET
    prices: ChargeInPricesType0 | None | Unset = UNSET
    rate: float | int | None | str | Unset = UNSET
    tax_code: None | str | Unset = UNSET
    tiers: list[TierIn] | None | Unset = UNSET
    timing: None | Timing | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.charge_in_prices_type_0 import ChargeInPricesType0  # noqa: PLC0415

        description = self.description

        key = self.key

        model = self.model.value

        amount: float | int | None | str | Unset
        if isinstance(self.amount, Unset):
            amount = UNSET
        else:
            amount = self.amount

        default_price: float | int | None | str | Unset
        if isinstance(self.default_price, Unset):
            default_price = UNSET
        else:
            default_price = self.default_price

        dimension: None | str | Unset
        if isinstance(self.dimension, Unset):
            dimension = UNSET
        else:
            dimension = self.dimension

        fixed_amount: float | int | None | str | Unset
        if isinstance(self.fixed_amount, Unset):
            fixed_amount = UNSET
        else:
            fixed_amount = self.fixed_amount

        flat_fee_at_zero: bool | None | Unset
        if isinstance(self.flat_fee_at_zero, Unset):
            flat_fee_at_zero = UNSET
        else:
            flat_fee_at_zero = self.flat_fee_at_zero

        free_amount: float | int | None | str | Unset
        if isinstance(self.free_amount, Unset):
            free_amount = UNSET
        else:
            free_amount = self.free_amount

        free_transactions: int | None | Unset
        if isinstance(self.free_transactions, Unset):
            free_transactions = UNSET
        else:
            free_transactions = self.free_transactions

        included: float | int | None | str | Unset
        if isinstance(self.included, Unset):
            included = UNSET
        else:
            included = self.included

        max_per_transaction: float | int | None | str | Unset
        if isinstance(self.max_per_transaction, Unset):
            max_per_transaction = UNSET
        else:
            max_per_transaction = self.max_per_transaction

        meter: None | str | Unset
        if isinstance(self.meter, Unset):
            meter = UNSET
        else:
            meter = self.meter

        min_per_transaction: float | int | None | str | Unset
        if isinstance(self.min_per_transaction, Unset):
            min_per_transaction = UNSET
        else:
            min_per_transaction = self.min_per_transaction

        minimum: float | int | None | str | Unset
        if isinstance(self.minimum, Unset):
            minimum = UNSET
        else:
            minimum = self.minimum

        package_size: float | int | None | str | Unset
        if isinstance(self.package_size, Unset):
            package_size = UNSET
        else:
            package_size = self.package_size

        prices: dict[str, Any] | None | Unset
        if isinstance(self.prices, Unset):
            prices = UNSET
        elif isinstance(self.prices, ChargeInPricesType0):
            prices = self.prices.to_dict()
        else:
            prices = self.prices

        rate: float | int | None | str | Unset
        if isinstance(self.rate, Unset):
            rate = UNSET
        else:
            rate = self.rate

        tax_code: None | str | Unset
        if isinstance(self.tax_code, Unset):
            tax_code = UNSET
        else:
            tax_code = self.tax_code

        tiers: list[dict[str, Any]] | None | Unset
        if isinstance(self.tiers, Unset):
            tiers = UNSET
        elif isinstance(self.tiers, list):
            tiers = []
            for tiers_type_0_item_data in self.tiers:
                tiers_type_0_item = tiers_type_0_item_data.to_dict()
                tiers.append(tiers_type_0_item)

        else:
            tiers = self.tiers

        timing: None | str | Unset
        if isinstance(self.timing, Unset):
            timing = UNSET
        elif isinstance(self.timing, Timing):
            timing = self.timing.value
        else:
            timing = self.timing

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "description": description,
                "key": key,
                "model": model,
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
        if tax_code is not UNSET:
            field_dict["tax_code"] = tax_code
        if tiers is not UNSET:
            field_dict["tiers"] = tiers
        if timing is not UNSET:
            field_dict["timing"] = timing

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.charge_in_prices_type_0 import ChargeInPricesType0  # noqa: PLC0415
        from ..models.tier_in import TierIn  # noqa: PLC0415

        d = dict(src_dict)
        description = d.pop("description")

        key = d.pop("key")

        model = ChargeModel(d.pop("model"))

        def _parse_amount(data: object) -> float | int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | int | None | str | Unset, data)

        amount = _parse_amount(d.pop("amount", UNSET))

        def _parse_default_price(data: object) -> float | int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | int | None | str | Unset, data)

        default_price = _parse_default_price(d.pop("default_price", UNSET))

        def _parse_dimension(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        dimension = _parse_dimension(d.pop("dimension", UNSET))

        def _parse_fixed_amount(data: object) -> float | int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | int | None | str | Unset, data)

        fixed_amount = _parse_fixed_amount(d.pop("fixed_amount", UNSET))

        def _parse_flat_fee_at_zero(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        flat_fee_at_zero = _parse_flat_fee_at_zero(d.pop("flat_fee_at_zero", UNSET))

        def _parse_free_amount(data: object) -> float | int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | int | None | str | Unset, data)

        free_amount = _parse_free_amount(d.pop("free_amount", UNSET))

        def _parse_free_transactions(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        free_transactions = _parse_free_transactions(d.pop("free_transactions", UNSET))

        def _parse_included(data: object) -> float | int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | int | None | str | Unset, data)

        included = _parse_included(d.pop("included", UNSET))

        def _parse_max_per_transaction(data: object) -> float | int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | int | None | str | Unset, data)

        max_per_transaction = _parse_max_per_transaction(d.pop("max_per_transaction", UNSET))

        def _parse_meter(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        meter = _parse_meter(d.pop("meter", UNSET))

        def _parse_min_per_transaction(data: object) -> float | int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | int | None | str | Unset, data)

        min_per_transaction = _parse_min_per_transaction(d.pop("min_per_transaction", UNSET))

        def _parse_minimum(data: object) -> float | int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | int | None | str | Unset, data)

        minimum = _parse_minimum(d.pop("minimum", UNSET))

        def _parse_package_size(data: object) -> float | int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | int | None | str | Unset, data)

        package_size = _parse_package_size(d.pop("package_size", UNSET))

        def _parse_prices(data: object) -> ChargeInPricesType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                prices_type_0 = ChargeInPricesType0.from_dict(data)

                return prices_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ChargeInPricesType0 | None | Unset, data)

        prices = _parse_prices(d.pop("prices", UNSET))

        def _parse_rate(data: object) -> float | int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | int | None | str | Unset, data)

        rate = _parse_rate(d.pop("rate", UNSET))

        def _parse_tax_code(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        tax_code = _parse_tax_code(d.pop("tax_code", UNSET))

        def _parse_tiers(data: object) -> list[TierIn] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                tiers_type_0 = []
                _tiers_type_0 = data
                for tiers_type_0_item_data in _tiers_type_0:
                    tiers_type_0_item = TierIn.from_dict(tiers_type_0_item_data)

                    tiers_type_0.append(tiers_type_0_item)

                return tiers_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[TierIn] | None | Unset, data)

        tiers = _parse_tiers(d.pop("tiers", UNSET))

        def _parse_timing(data: object) -> None | Timing | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                timing_type_0 = Timing(data)

                return timing_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Timing | Unset, data)

        timing = _parse_timing(d.pop("timing", UNSET))

        charge_in = cls(
            description=description,
            key=key,
            model=model,
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
            tax_code=tax_code,
            tiers=tiers,
            timing=timing,
        )

        return charge_in

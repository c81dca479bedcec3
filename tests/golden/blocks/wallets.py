"""Block ``wallets``: holder × currency × expiry × grant date × return × scope.

Each cell is a monthly subscription from 1 December 2026 (a fee of 50 in advance; grace 72 h,
so the December invoice is final on 4 December, January's on 4 January). Holder ``grant``:
prepaid credit of 80 in the plan's currency or another, granted before, on or after the
invoice's issue day, expiring never, before, on or after it, beside a standing grant of 20
(1 November, no expiry) — soonest expiry first, then oldest; the December invoice voided on 10
December (its credit back to the wallet) or kept. Holder ``coupon``: 15 off in the plan's
currency or another. Scope: the whole invoice, or — from ``revsync.domain.scopes`` — limited to
plans or meters.

A limited cell (docs/billing.md, Scopes) is taxed (DE, 19%) and has two subscriptions: one on a
plan with a fee of 50 in advance and usage of two meters (27 units of ``g_sum`` at 0.5, 3 events
of ``g_count`` at 0.4), one from 2 December on another plan (a fee of 20 in advance, ``g_sum`` at
0.25). The grant of 80 (the standing one stays unlimited) or the coupon (applied to both
subscriptions, with 12.5% off limited the same way and taken first) is limited to the first plan,
or to the meter ``g_sum`` — which reaches the usage lines of both plans and no fee. Beside a
limited grant, the first subscription has 12.5% off (unlimited), which each line's part of the
invoice is net of.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from tests.golden.blocks.common import customer, day, meter_key, named, subscribe
from tests.golden.grid import Axis, Block, CellPlan
from tests.golden.scenario import (
    Bill,
    Grant,
    Pick,
    Settings,
    Subscribe,
    Usage,
    VoidInvoice,
    instant,
)

HOLDERS = ("grant", "coupon")
CURRENCIES = ("same", "other")
EXPIRY = ("none", "before_issue", "on_issue", "after_issue")
GRANTED = ("before_issue", "on_issue", "after_issue")
RETURNED = ("kept", "voided")
START = day("2026-12-01")
RUNS = [day(d) for d in ("2026-12-01", "2026-12-04", "2027-01-01", "2027-01-04")]
_GRANTED = {"before_issue": day("2026-11-20"), "on_issue": START, "after_issue": day("2026-12-02")}
_EXPIRES = {
    "none": None,
    "before_issue": day("2026-11-30"),
    "on_issue": START,
    "after_issue": day("2026-12-15"),
}


def scopes() -> tuple[str, ...]:
    """The whole invoice, and what revsync lets a coupon or grant be limited to (its
    ``ScopeTarget``s, when the module exists)."""
    try:
        from revsync.domain.scopes import ScopeTarget
    except ImportError:  # not there yet
        return ("everything",)
    return ("everything", *(target.value for target in ScopeTarget))


PLAN = named(
    {
        "name": "Wallet",
        "currency": "EUR",
        "interval": "month",
        "charges": [
            {
                "key": "fee",
                "model": "flat",
                "description": "Fee",
                "timing": "in_advance",
                "amount": "50.00",
            },
            {
                "key": "use",
                "model": "per_unit",
                "description": "Usage",
                "meter": meter_key("sum"),
                "amount": "0.5",
            },
        ],
    }
)


PLAN_LIMITED = named(
    {
        "name": "Wallet limited",
        "currency": "EUR",
        "interval": "month",
        "charges": [
            *PLAN["charges"],
            {
                "key": "calls",
                "model": "per_unit",
                "description": "Calls",
                "meter": meter_key("count"),
                "amount": "0.4",
            },
        ],
    }
)
OTHER = named(
    {
        "name": "Wallet other",
        "currency": "EUR",
        "interval": "month",
        "charges": [
            {
                "key": "fee",
                "model": "flat",
                "description": "Fee",
                "timing": "in_advance",
                "amount": "20.00",
            },
            {
                "key": "use",
                "model": "per_unit",
                "description": "Usage",
                "meter": meter_key("sum"),
                "amount": "0.25",
            },
        ],
    }
)
#: what a limited coupon or grant names, per scope
LIMITS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "plans": (("plans", (PLAN_LIMITED["code"],)),),
    "meters": (("meters", (meter_key("sum"),)),),
}
TAX = (("DE", (("standard", "19"),)),)
#: beside a limited grant: 12.5% off the first subscription's invoices
ALL_OFF = {
    "code": "W12-ALL",
    "description": "12.5% off",
    "duration": "forever",
    "percent_off": "12.5",
}


def legal(c: Mapping[str, str]) -> bool:
    if c["holder"] == "coupon":
        # a coupon has no expiry, grant date or return of its own
        return (c["expiry"], c["granted"], c["returned"]) == ("none", "before_issue", "kept")
    expires = _EXPIRES.get(c["expiry"])
    granted = _GRANTED.get(c["granted"])
    return expires is None or granted is None or expires > granted  # expiry after the grant


def build(c: Mapping[str, str], key: str) -> CellPlan | None:
    if c["scope"] not in ("everything", *LIMITS) or c["holder"] not in HOLDERS:
        return None
    limits = LIMITS.get(c["scope"], ())
    name = f"w-{key}"
    currency = "EUR" if c["currency"] == "same" else "USD"
    setup = instant(day("2026-11-01"))
    plan = PLAN_LIMITED if limits else PLAN
    coupons: list[dict[str, Any]] = []
    uses: tuple[tuple[str, date], ...] = ()
    if c["holder"] == "coupon":
        coupons = [
            {
                "code": f"W15-{currency}" + (f"-{c['scope']}".upper() if limits else ""),
                "description": "15 off",
                "duration": "forever",
                "amount_off": "15",
                "currency": currency,
            }
        ]
        if limits:
            # and 12.5% off, limited the same way, taken first (docs: by start date, then code)
            coupons.insert(
                0,
                {
                    "code": f"W12-{c['scope']}".upper(),
                    "description": "12.5% off",
                    "duration": "forever",
                    "percent_off": "12.5",
                },
            )
            for limited in coupons:
                limited["applies_to"] = {target: list(names) for target, names in limits}
        uses = tuple((x["code"], START) for x in coupons)
    elif limits:
        # a limited grant pays its lines less their share of a discount, plus their tax
        coupons = [ALL_OFF]
        uses = ((ALL_OFF["code"], START),)
    used = instant(day("2026-12-08"), 10)
    actions: list[Any] = [
        customer(setup, name, "EUR", country="DE" if limits else None),
        subscribe(setup, name, plan["code"], START, coupons=uses),
        Usage(
            used,
            f"{name}-0",
            f"t-{name}",
            "golden.sum",
            instant(day("2026-12-08"), 9),
            {"v": Decimal(27 if limits else 30)},
        ),
    ]
    plans = [plan]
    if limits:
        second = day("2026-12-02")
        actions.append(
            Subscribe(
                setup,
                f"s-{name}-b",
                name,
                OTHER["code"],
                second,
                coupons=tuple((code, second) for code, _ in uses if code != ALL_OFF["code"]),
            )
        )
        actions += [
            Usage(used, f"{name}-c{n}", f"t-{name}", "golden.count", used - timedelta(hours=n))
            for n in range(1, 4)
        ]
        plans.append(OTHER)
    if c["holder"] == "grant":
        granted = _GRANTED[c["granted"]]
        actions.append(Grant(setup, name, Decimal(20), "EUR", setup.date()))
        actions.append(
            Grant(
                instant(granted, 8),
                name,
                Decimal(80),
                currency,
                granted,
                _EXPIRES[c["expiry"]],
                applies_to=limits,
            )
        )
        if c["returned"] == "voided":
            actions.append(
                VoidInvoice(
                    instant(day("2026-12-10"), 8),
                    Pick(f"s-{name}", "advance", START),
                    f"{name}:void",
                )
            )
    actions += [Bill(instant(run), run) for run in RUNS]
    settings = Settings(grace_hours=72, tax=TAX if limits else ())
    return CellPlan(settings, actions, (name,), plans=plans, coupons=coupons)


BLOCK = Block(
    name="wallets",
    axes=(
        Axis("holder", HOLDERS, "the grid: prepaid credit, or a coupon"),
        Axis("currency", CURRENCIES, "the grid: the plan's currency, or another"),
        Axis("expiry", EXPIRY, "the grid: when the grant expires, against the issue day"),
        Axis("granted", GRANTED, "the grid: when it is granted, against the issue day"),
        Axis("returned", RETURNED, "the grid: the invoice kept, or voided (credit back)"),
        Axis("scope", scopes(), "revsync.domain.scopes.ScopeTarget, and the whole invoice"),
    ),
    legal=legal,
    build=build,
)

"""Block ``identity``: identity change × when × carried state.

Each cell is a monthly subscription from 1 November 2026 (a fee of 20 in advance, usage at 0.5
a unit) whose customer's identity changes: a tenant whose events were kept aside (unmapped) is
mapped to it; a second tenant is added and its events follow; a child account (with usage of
its own) is put under it while it bills its children; or a tenant moves from one customer to
another (two steps: taken off one, given to the other). The change comes while November is
open, in its grace period (72 h) or after its invoice is final. The subscription carries a 10 %
coupon, prepaid credit, or nothing. Runs on 1 November, 1, 4 and 6 December and 1 and 4
January; every invoice of every customer of the cell is compared in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.golden.blocks.common import customer, day, meter_key, named, subscribe
from tests.golden.grid import Axis, Block, CellPlan
from tests.golden.scenario import Bill, Grant, PutCustomer, Settings, Usage, instant

CHANGES = ("tenant_mapped_later", "second_tenant", "child_attached", "tenant_moved")
WHEN = ("open_period", "in_grace", "after_final")
CARRIED = ("none", "coupon", "prepaid")
START = day("2026-11-01")
RUNS = [
    day(d)
    for d in ("2026-11-01", "2026-12-01", "2026-12-04", "2026-12-06", "2027-01-01", "2027-01-04")
]
COUPON = {"code": "ID10", "description": "10% off", "duration": "forever", "percent_off": "10"}
#: when the change is made in each case (grace 72 h: November is final from the 4 December run)
_AT = {
    "open_period": instant(day("2026-11-25"), 8),
    "in_grace": instant(day("2026-12-02"), 8),
    "after_final": instant(day("2026-12-05"), 8),
}
PLAN = named(
    {
        "name": "Identity",
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
                "amount": "0.5",
            },
        ],
    }
)


def _use(at: datetime, event_id: str, tenant: str, when: datetime, value: str) -> Usage:
    return Usage(at, event_id, tenant, "golden.sum", when, {"v": Decimal(value)})


def legal(c: Mapping[str, str]) -> bool:
    return True


def build(c: Mapping[str, str], key: str) -> CellPlan | None:
    change, when, carried = c["change"], c["when"], c["carried"]
    if change not in CHANGES or when not in _AT or carried not in CARRIED:
        return None
    name = f"i-{key}"
    setup = instant(START - timedelta(days=1))
    moment = _AT[when]
    # after the change: an event dated in November, sent at once (late once November is billed)
    after_time = (
        moment - timedelta(hours=1) if when == "open_period" else instant(day("2026-11-28"), 10)
    )
    coupons = ((COUPON["code"], START),) if carried == "coupon" else ()
    customers = [name]
    actions: list[Any] = [
        customer(setup, name, "EUR"),
        subscribe(
            setup,
            name,
            PLAN["code"],
            START,
            coupons=coupons,
            include_children=change == "child_attached",
        ),
        _use(
            instant(day("2026-11-05"), 10),
            f"{name}-0",
            f"t-{name}",
            instant(day("2026-11-05"), 9),
            "10",
        ),
    ]
    if carried == "prepaid":
        actions.append(Grant(setup, name, Decimal("25"), "EUR", setup.date()))
    other = f"t-{name}-2"
    if change == "tenant_mapped_later":
        actions.append(
            _use(
                instant(day("2026-11-12"), 10),
                f"{name}-1",
                other,
                instant(day("2026-11-12"), 9),
                "6",
            )
        )
        actions.append(PutCustomer(moment, name, "EUR", tenants=(f"t-{name}", other)))
    elif change == "second_tenant":
        actions.append(PutCustomer(moment, name, "EUR", tenants=(f"t-{name}", other)))
        actions.append(_use(moment + timedelta(minutes=5), f"{name}-1", other, after_time, "6"))
    elif change == "child_attached":
        child = f"{name}-kid"
        customers.append(child)
        actions.append(customer(setup, child, "EUR"))
        actions.append(
            _use(
                instant(day("2026-11-12"), 10),
                f"{name}-1",
                f"t-{child}",
                instant(day("2026-11-12"), 9),
                "6",
            )
        )
        actions.append(PutCustomer(moment, child, "EUR", tenants=(f"t-{child}",), parent=name))
        actions.append(
            _use(moment + timedelta(minutes=5), f"{name}-2", f"t-{child}", after_time, "4")
        )
    elif change == "tenant_moved":
        buyer = f"{name}-b"
        customers.append(buyer)
        moved = f"t-{name}-moved"
        actions[0] = PutCustomer(setup, name, "EUR", tenants=(f"t-{name}", moved))
        actions.append(customer(setup, buyer, "EUR"))
        actions.append(subscribe(setup, buyer, PLAN["code"], START))
        actions.append(
            _use(
                instant(day("2026-11-08"), 10),
                f"{name}-1",
                moved,
                instant(day("2026-11-08"), 9),
                "6",
            )
        )
        actions.append(PutCustomer(moment, name, "EUR", tenants=(f"t-{name}",)))
        actions.append(
            PutCustomer(moment + timedelta(minutes=1), buyer, "EUR", tenants=(f"t-{buyer}", moved))
        )
        actions.append(_use(moment + timedelta(minutes=5), f"{name}-2", moved, after_time, "4"))
    actions += [Bill(instant(run), run) for run in RUNS]
    settings = Settings(grace_hours=72)
    return CellPlan(
        settings, actions, tuple(customers), plans=[PLAN], coupons=[COUPON] if coupons else []
    )


BLOCK = Block(
    name="identity",
    axes=(
        Axis("change", CHANGES, "the grid: what happens to the customer's identity"),
        Axis("when", WHEN, "the grid: November open, in its grace period, or final"),
        Axis("carried", CARRIED, "the grid: what the subscription carries through it"),
    ),
    legal=legal,
    build=build,
)

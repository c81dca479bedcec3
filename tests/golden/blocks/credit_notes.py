"""Block ``credit_notes``: origin × invoice kind × invoice state × money.

Each cell credits one invoice of a subscription (a fee of 100 in advance, usage at 0.5 a unit,
40 units on 20 November): its November advance invoice, its November arrears invoice, the
adjustment invoice a late event makes (``separate_invoice``), the interim invoice a spend
threshold issues on 20 November, or the usage invoice of 20 November (the usage charge billed
as it arrives, ``timing: in_advance``: issued by the run of the 21st, final after the 72 h
grace by the run of the 24th; the arrears invoice deducts it unless it is void), or the
consolidated invoice of 1 December (``billing.consolidate`` on in its world: the December
advance invoice and the November arrears invoice, both issued that day, finalized as one by the
run of the 4th — its period from 1 November to 1 January; the November advance invoice, alone
on its day, stays apart; the cell also tries to void or credit its November arrears part, which
must be refused; its prepaid credit is granted on 5 November, after the November advance
invoice is final, so that the consolidated invoice takes it). The invoice is first brought to the state (a draft, inside the 72 h grace period; finalized; posted — the
ERP's receipt recorded; paid — the ERP's payment sync; void), then credited: voided, a part of
a line, a part then the rest of every line, or a part then voided. Money: nothing else; tax at
19 % and 10 % off; or prepaid credit. Through the API (``POST /v1/invoices/{id}/void``,
``…/credit-notes``): what a correct revsync refuses must be a 4xx. Invariant everywhere: the
notes never credit more than the invoice billed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from revsync.domain.invoicing import InvoiceKind, InvoiceStatus
from tests.golden.blocks.common import customer, day, meter_key, named, subscribe
from tests.golden.grid import Axis, Block, CellPlan, CellRun, Check, values_of
from tests.golden.scenario import (
    Bill,
    CreditLines,
    Grant,
    Pay,
    Pick,
    Post,
    Settings,
    Sweep,
    Usage,
    VoidInvoice,
    instant,
)

ORIGINS = ("void", "partial", "partial_twice", "partial_then_void")
MONEY = ("plain", "taxed_discounted", "prepaid")
START = day("2026-11-01")
RUNS = [
    day(d)
    for d in ("2026-11-01", "2026-11-04", "2026-12-01", "2026-12-04", "2026-12-06", "2026-12-09")
]
TABLE = (("DE", (("standard", "19"),)),)
COUPON = {"code": "TEN", "description": "10% off", "duration": "forever", "percent_off": "10"}
#: per kind: the invoice's period start, and when a draft is acted on, when it is posted, when
#: it is paid or voided, and when it is credited
_WHEN: dict[str, tuple[date, str, str, str, str]] = {
    "advance": (START, "2026-11-02", "2026-11-05", "2026-11-06", "2026-11-07"),
    "arrears": (START, "2026-12-02", "2026-12-05", "2026-12-06", "2026-12-07"),
    "adjustment": (day("2026-12-06"), "2026-12-07", "2026-12-10", "2026-12-11", "2026-12-12"),
    "interim": (START, "", "2026-11-21", "2026-11-22", "2026-11-23"),
    "usage": (day("2026-11-20"), "2026-11-22", "2026-11-25", "2026-11-26", "2026-11-27"),
    # made final by the run of 4 December (the 72 h grace of 1 December over): a draft has none
    "consolidated": (START, "2026-12-02", "2026-12-05", "2026-12-06", "2026-12-07"),
}
#: the runs that issue the usage invoice of 20 November and finalize it after the grace period
USAGE_RUNS = [day("2026-11-21"), day("2026-11-24")]


def plan(interim: bool, usage_timing: str = "in_arrears") -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Credit",
        "currency": "EUR",
        "interval": "month",
        "charges": [
            {
                "key": "fee",
                "model": "flat",
                "description": "Fee",
                "timing": "in_advance",
                "amount": "100.00",
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
    if usage_timing != "in_arrears":
        data["charges"][1]["timing"] = usage_timing
    if interim:
        data["thresholds"] = [{"key": "spend-10", "kind": "spend", "value": "10", "invoice": True}]
    return named(data)


def legal(c: Mapping[str, str]) -> bool:
    if c["kind"] == InvoiceKind.CREDIT_NOTE.value:
        return False  # a credit note is not credited
    # docs/thresholds.md: an interim invoice is finalized at once
    return not (c["kind"] == InvoiceKind.INTERIM.value and c["state"] == InvoiceStatus.DRAFT.value)


def _as_its_parts(pick: Pick) -> Check:
    """docs, Consolidated invoices: every line of the consolidated invoice is a line of one of
    its parts as the part bills it (lineage, what it adjusts), keyed ``<part id>:<key>`` and
    described ``<subscription> — <description>`` — what the documents compared leave out."""

    def check(run: CellRun) -> list[str]:
        whole = run.world.find(pick)
        if whole is None:
            return []  # the documents compared say it is missing
        parts = run.world.parts(whole)
        problems = []
        for line in whole.lines:
            part_id, _, key = line.key.partition(":")
            part = parts.get(part_id)
            own = None if part is None else part.line(key)
            if part is None or own is None:
                problems.append(f"consolidated line {line.key}: no such line on a part")
                continue
            described = f"{part.subscription_id} — {own.description}"
            if line.description != described:
                problems.append(f"consolidated line {key}: {line.description!r} ≠ {described!r}")
            if replace(line, key=key, description=own.description) != own:
                problems.append(f"consolidated line {key}: {line} is not its part's {own}")
        return problems

    return check


def build(c: Mapping[str, str], key: str) -> CellPlan | None:
    kind, state, origin, money = c["kind"], c["state"], c["origin"], c["money"]
    if kind not in _WHEN or state not in ("draft", "finalized", "posted", "paid", "void"):
        return None
    the_plan = plan(kind == "interim", "in_advance" if kind == "usage" else "in_arrears")
    name = f"c-{key}"
    setup = instant(START - timedelta(days=1))
    coupons = [COUPON] if money == "taxed_discounted" else []
    actions: list[Any] = [
        customer(setup, name, "EUR", country="DE"),
        subscribe(
            setup, name, the_plan["code"], START, coupons=tuple((x["code"], START) for x in coupons)
        ),
    ]
    if money == "prepaid" and kind == "consolidated":
        granted = day("2026-11-05")  # the November advance invoice, final on the 4th, takes none
        actions.append(Grant(instant(granted, 8), name, Decimal("40"), "EUR", granted))
    elif money == "prepaid":
        actions.append(Grant(setup, name, Decimal("40"), "EUR", START - timedelta(days=1)))
    moment = instant(day("2026-11-20"), 10)
    actions.append(
        Usage(
            moment,
            f"{name}-0",
            f"t-{name}",
            "golden.sum",
            moment - timedelta(hours=2),
            {"v": Decimal(40)},
        )
    )
    actions.append(Sweep(instant(day("2026-11-20"), 11)))
    if kind == "adjustment":
        late = instant(day("2026-12-05"), 8)
        actions.append(
            Usage(
                late,
                f"{name}-1",
                f"t-{name}",
                "golden.sum",
                instant(day("2026-11-25"), 10),
                {"v": Decimal(10)},
            )
        )
    period, draft, posted, settled, credited = _WHEN[kind]
    pick = Pick(f"s-{name}", kind, period)
    acted = instant(day(draft), 8) if state == "draft" else instant(day(credited), 8)
    if state in ("posted", "paid"):
        actions.append(Post(instant(day(posted), 8), pick))
    if state == "paid":
        actions.append(Pay(instant(day(settled), 8), pick))
    if state == "void":
        actions.append(VoidInvoice(instant(day(settled), 8), pick, f"{name}:state"))
    tag = f"{name}:credit"
    if kind == "consolidated":  # its part is voided or credited through it only: refused
        part = Pick(f"s-{name}", "arrears", START)
        tried = acted - timedelta(minutes=1)
        if origin == "void":
            actions.append(VoidInvoice(tried, part, f"{name}:part"))
        else:
            actions.append(CreditLines(tried, part, "first", Decimal("0.4"), f"{name}:part"))
    if origin == "void":
        actions.append(VoidInvoice(acted, pick, tag))
    elif origin == "partial":
        actions.append(CreditLines(acted, pick, "first", Decimal("0.4"), tag))
    elif origin == "partial_twice":
        actions.append(CreditLines(acted, pick, "first", Decimal("0.4"), tag))
        actions.append(CreditLines(acted + timedelta(minutes=1), pick, "all", None, f"{tag}-2"))
    elif origin == "partial_then_void":
        actions.append(CreditLines(acted, pick, "first", Decimal("0.4"), tag))
        actions.append(VoidInvoice(acted + timedelta(minutes=1), pick, f"{tag}-2"))
    else:
        return None
    runs = sorted(RUNS + USAGE_RUNS) if kind == "usage" else RUNS
    actions += [Bill(instant(run), run) for run in runs]
    settings = Settings(
        grace_hours=72,
        late_usage="separate_invoice",
        tax=TABLE if money == "taxed_discounted" else (),
        consolidate=kind == "consolidated",
    )
    checks = [_as_its_parts(pick)] if kind == "consolidated" else []
    return CellPlan(settings, actions, (name,), plans=[the_plan], coupons=coupons, checks=checks)


BLOCK = Block(
    name="credit_notes",
    axes=(
        Axis("origin", ORIGINS, "the grid: void, partial, partials to the end, partial then void"),
        Axis("kind", values_of(InvoiceKind), "revsync.domain.invoicing.InvoiceKind"),
        Axis("state", values_of(InvoiceStatus), "revsync.domain.invoicing.InvoiceStatus"),
        Axis("money", MONEY, "the grid: plain; tax and a discount; prepaid credit"),
    ),
    legal=legal,
    build=build,
    chunks=2,
)

"""Quote-to-cash against the CRM sandbox (no ERP): a new-business deal whose plan prices a
meter that another subscription bills already — the customer's, an ancestor's billing its
subsidiaries, or a subsidiary's under a deal that bills them — is refused, never billed twice;
one on other meters is taken. An add-on to a contract's subscription holds when the contract
is edited later without its seats; the contract's own seat change still rules."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from revsync.application.subscriptions import CreateSubscription
from revsync.bootstrap import Container, apply_configuration, build
from revsync.sandbox.crm import CrmSandbox
from revsync.sandbox.crm.deals import Item, add_product, sell
from tests.conftest import make_settings
from tests.support.crm import CRM_SECRET_ENV, crm_section


def plan(code: str, meter: str | None) -> dict[str, object]:
    charges: list[dict[str, object]] = [
        {"key": "fee", "model": "flat", "description": "Fee", "amount": "10.00"}
    ]
    if meter:
        charges.append(
            {
                "key": "use",
                "model": "per_unit",
                "description": meter,
                "meter": meter,
                "amount": "0.01",
            }
        )
    return {"code": code, "name": code, "currency": "EUR", "interval": "month", "charges": charges}


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[CrmSandbox]:
    with CrmSandbox(tmp_path / "crm") as running:
        yield running


@pytest.fixture
def container(
    sqlite_url: str, crm: CrmSandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Container]:
    monkeypatch.setenv(CRM_SECRET_ENV, crm.credentials.client_secret)
    settings = make_settings(
        sqlite_url,
        meters=[
            {"key": "api_calls", "event_type": "api.call", "aggregation": "count"},
            {"key": "exports", "event_type": "export", "aggregation": "count"},
        ],
        plans=[
            plan("calls", "api_calls"),
            plan("exports", "exports"),
            plan("flat", None),
            {
                "code": "seated",
                "name": "Seated",
                "currency": "EUR",
                "interval": "month",
                "charges": [
                    {"key": "seats", "model": "per_seat", "description": "Seats", "amount": "5.00"}
                ],
            },
        ],
        crm=crm_section(crm, overlap_seconds=0),
        quote_to_cash={
            "products": {
                "CALLS": {"plan": "calls", "charge": "fee"},
                "EXPORTS": {"plan": "exports", "charge": "fee"},
                "FLAT": {"plan": "flat", "charge": "fee"},
                "SEAT": {"plan": "seated", "charge": "seats"},
            }
        },
        outbox={"allow_private_hosts": ["127.0.0.1"]},
    )
    wired = build(settings)
    apply_configuration(wired, "test")
    yield wired
    wired.close()


def test_a_deal_that_would_bill_a_meter_twice_is_refused_and_one_on_others_is_taken(
    container: Container, crm: CrmSandbox
) -> None:
    acme = crm.create_record("Account", {"Name": "Acme", "Revsync_Customer_Id__c": "acme"})
    child = crm.create_record(
        "Account", {"Name": "Acme Labs", "ParentId": acme, "Revsync_Customer_Id__c": "labs"}
    )
    asyncio.run(container.pull_crm())
    container.subscriptions.create(
        CreateSubscription(
            "s-acme", "acme", "calls", date(2026, 10, 1), "test", include_children=True
        )
    )
    entries = {
        code: add_product(crm, code, code.title(), Decimal("10.00"))
        for code in ("CALLS", "EXPORTS", "FLAT")
    }
    day = date(2026, 11, 1)
    twice = sell(crm, acme, "Acme — calls again", day, [Item("CALLS", 1)], entries)
    labs = sell(crm, child, "Labs — calls", day, [Item("CALLS", 1)], entries)
    other = sell(crm, acme, "Acme — exports", day, [Item("EXPORTS", 1)], entries)
    flat = sell(crm, child, "Labs — flat", day, [Item("FLAT", 1)], entries)
    pulled = asyncio.run(container.pull_crm())
    assert pulled.deals is not None
    why = (
        "OpportunityLineItem: subscription s-acme of acme already bills api_calls on 2026-11-01: "
        "a second subscription would bill that usage twice (make this an add-on naming its "
        "contract, or end that subscription first)"
    )
    assert sorted(pulled.deals.refused) == sorted([f"{twice}: {why}", f"{labs}: {why}"])
    assert sorted(pulled.deals.taken) == sorted(
        [f"{other} → opp-{other} (new)", f"{flat} → opp-{flat} (new)"]
    )
    with container.unit_of_work(write=False) as uow:
        assert {s.id for s in uow.subscriptions.of_customer("acme")} == {"s-acme", f"opp-{other}"}
        assert [s.id for s in uow.subscriptions.of_customer("labs")] == [f"opp-{flat}"]


def test_a_subscription_ended_before_the_deal_starts_bills_nothing_twice(
    container: Container, crm: CrmSandbox
) -> None:
    acme = crm.create_record("Account", {"Name": "Acme", "Revsync_Customer_Id__c": "acme"})
    asyncio.run(container.pull_crm())
    container.subscriptions.create(
        CreateSubscription(
            "s-old", "acme", "calls", date(2026, 6, 1), "test", ends=date(2026, 11, 1)
        )
    )
    entries = {"CALLS": add_product(crm, "CALLS", "Calls", Decimal("10.00"))}
    won = sell(crm, acme, "Acme — renewal", date(2026, 11, 1), [Item("CALLS", 1)], entries)
    pulled = asyncio.run(container.pull_crm())
    assert pulled.deals is not None and pulled.deals.taken == [f"{won} → opp-{won} (new)"]


def test_an_add_on_to_a_contract_holds_until_the_contract_changes_its_seats(
    container: Container, crm: CrmSandbox
) -> None:
    acme = crm.create_record("Account", {"Name": "Acme", "Revsync_Customer_Id__c": "acme"})
    contract = crm.create_record(
        "Contract",
        {
            "AccountId": acme,
            "Status": "Activated",
            "StartDate": "2026-10-01",
            "ContractTerm": 12,
            "Plan__c": "seated",
            "Seats__c": 10,
        },
    )
    asyncio.run(container.pull_crm())
    entries = {"SEAT": add_product(crm, "SEAT", "Seat", Decimal("5.00"))}
    more = sell(
        crm,
        acme,
        "Acme — 5 more",
        date(2026, 11, 10),
        [Item("SEAT", 5, service_date=date(2026, 11, 16))],
        entries,
        ContractId=contract,
    )
    subscription = f"crm-{contract}"
    pulled = asyncio.run(container.pull_crm())
    assert pulled.deals is not None and pulled.deals.taken == [f"{more} → {subscription} (add_on)"]

    def seats() -> list[tuple[str, date, int]]:
        found = container.subscriptions.get(subscription)
        return [(t.change.value, t.effective, t.seats) for t in found.terms]

    added = [("created", date(2026, 10, 1), 10), ("seat_change", date(2026, 11, 16), 15)]
    assert seats() == added
    # someone edits the contract's renewal date: its seats (10) did not change, the add-on holds
    crm.update_record("Contract", contract, {"Renewal_Date__c": "2027-10-01"})
    assert asyncio.run(container.pull_crm()).amendments == []
    assert seats() == added
    # the contract's own seat change rules from its amendment date
    crm.update_record("Contract", contract, {"Seats__c": 12, "Amendment_Date__c": "2026-12-01"})
    assert asyncio.run(container.pull_crm()).amendments == [f"{subscription}: seat_change"]
    assert seats() == [*added, ("seat_change", date(2026, 12, 1), 12)]

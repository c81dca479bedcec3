"""The reconciliation comparisons: each kind of discrepancy between what revsync sent to the
ERP and what the ERP holds, what is not one (a document the outbox has yet to deliver), and a
usage line whose events changed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

from revsync.domain.reconciliation import (
    Booked,
    ContractView,
    FindingKind,
    LedgerEntry,
    SentSignals,
    SubscriptionView,
    compare_contracts,
    compare_ledger,
    compare_lineage,
    compare_signals,
)

OURS = Booked(
    invoice_id="inv_1",
    number="INV-1",
    key="rsv1-a",
    currency="EUR",
    untaxed=Decimal("100.00"),
    tax=Decimal("20.00"),
    total=Decimal("120.00"),
    delivered=True,
    party="RS-acme",
    paid=False,
)
THEIRS = LedgerEntry(
    remote_id="7",
    key="rsv1-a",
    number="E-7",
    party="RS-acme",
    currency="EUR",
    untaxed=Decimal("100.00"),
    tax=Decimal("20.00"),
    total=Decimal("120.00"),
    state="posted",
    paid=False,
)


def kinds(booked: list[Booked], ledger: list[LedgerEntry]) -> list[tuple[FindingKind, str]]:
    return [(f.kind, f.object_id) for f in compare_ledger(booked, ledger)]


def test_equal_sides_reconcile_clean() -> None:
    assert kinds([OURS], [THEIRS]) == []
    assert kinds([replace(OURS, paid=True)], [replace(THEIRS, state="paid", paid=True)]) == []


def test_each_difference_is_one_finding_with_both_sides() -> None:
    assert kinds([OURS], []) == [(FindingKind.ERP_MISSING, "inv_1")]
    assert kinds([OURS], [THEIRS, replace(THEIRS, remote_id="8")]) == [
        (FindingKind.ERP_DUPLICATE, "inv_1")
    ]
    # a cancelled copy beside the posted one is no duplicate
    assert kinds([OURS], [THEIRS, replace(THEIRS, remote_id="8", state="cancelled")]) == []
    [amounts] = compare_ledger([OURS], [replace(THEIRS, tax=Decimal("19.99"))])
    assert amounts.kind is FindingKind.ERP_AMOUNTS
    assert (amounts.ours["tax"], amounts.theirs["tax"]) == ("20.00", "19.99")
    assert "tax 20.00 here, 19.99 there" in amounts.message
    assert kinds([OURS], [replace(THEIRS, party="RS-other")]) == [
        (FindingKind.ERP_AMOUNTS, "inv_1")
    ]
    assert kinds([OURS], [replace(THEIRS, currency="USD")]) == [(FindingKind.ERP_AMOUNTS, "inv_1")]
    assert kinds([OURS], [replace(THEIRS, state="cancelled")]) == [(FindingKind.ERP_STATE, "inv_1")]
    assert kinds([OURS], [replace(THEIRS, state="paid", paid=True)]) == [
        (FindingKind.ERP_PAYMENT, "inv_1")
    ]
    assert kinds([], [THEIRS]) == [(FindingKind.ERP_UNKNOWN, "7")]
    assert kinds([], [replace(THEIRS, key=None, state="draft")]) == []  # not in the ledger yet


def test_what_the_outbox_has_yet_to_deliver_is_no_discrepancy() -> None:
    waiting = replace(OURS, delivered=False, party=None, paid=None)
    assert kinds([waiting], []) == []
    assert kinds([waiting], [replace(THEIRS, number=None, state="draft")]) == []
    # validated: checked by the ERP, its post refused or not reached yet (tryton_posting)
    assert kinds([waiting], [replace(THEIRS, number=None, state="validated")]) == []
    delivered = replace(OURS, delivered=True)
    assert kinds([delivered], [replace(THEIRS, number=None, state="validated")]) == [
        (FindingKind.ERP_STATE, "inv_1")
    ]
    # posted although its answer was lost: compared all the same
    assert kinds([waiting], [replace(THEIRS, total=Decimal("1"))]) == [
        (FindingKind.ERP_AMOUNTS, "inv_1")
    ]


def test_a_finding_keeps_its_key_from_run_to_run() -> None:
    first = compare_ledger([OURS], [replace(THEIRS, total=Decimal("1"))])
    second = compare_ledger([OURS], [replace(THEIRS, total=Decimal("2"))])
    assert [f.key for f in first] == [f.key for f in second] == ["erp_amounts:invoice:inv_1"]


def test_a_usage_line_is_found_when_its_events_are_not_those_it_was_billed_on() -> None:
    assert compare_lineage("inv_1", "INV-1", "usage:calls", (3, "ab"), (3, "ab")) == []
    [fewer] = compare_lineage("inv_1", "INV-1", "usage:calls", (3, "ab"), (2, "cd"))
    assert (fewer.kind, fewer.object_id) == (FindingKind.LINEAGE, "inv_1/usage:calls")
    [other] = compare_lineage("inv_1", "INV-1", "usage:calls", (3, "ab"), (3, "cd"))
    assert "(other events)" in other.message


def test_crm_fields_compare_by_value_and_a_gone_account_is_found() -> None:
    sent = [
        SentSignals("acme", "001A", {"Score__c": 100, "Overdue__c": False, "Flags__c": None}),
        SentSignals("globex", "001G", {"Score__c": Decimal("12.50")}),
    ]
    same = {"001A": {"Score__c": 100.0, "Overdue__c": False, "Flags__c": None}}
    assert [(f.kind, f.object_id) for f in compare_signals(sent, same)] == [
        (FindingKind.CRM_MISSING, "globex")
    ]
    read = {
        "001A": {"Score__c": 55.0, "Overdue__c": None, "Flags__c": None},
        "001G": {"Score__c": 12.5},
    }
    [changed] = compare_signals(sent, read)
    assert (changed.kind, changed.object_id) == (FindingKind.CRM_SIGNALS, "acme")
    assert dict(changed.ours) == {"Overdue__c": "false", "Score__c": "100"}
    assert dict(changed.theirs) == {"Overdue__c": "", "Score__c": "55.0"}


def contract(**fields: object) -> ContractView:
    values: dict[str, object] = {
        "contract_id": "800A",
        "subscription_id": "crm-800A",
        "account_id": "001A",
        "active": True,
        "plan": "growth",
        "seats": 10,
        "renewal_date": date(2027, 9, 1),
    }
    return ContractView(**{**values, **fields})  # type: ignore[arg-type]


def subscription(**fields: object) -> SubscriptionView:
    values: dict[str, object] = {
        "subscription_id": "crm-800A",
        "account_ids": ("001A",),
        "in_service": True,
        "plan": "growth",
        "seats": 10,
        "renewal_date": date(2027, 9, 1),
    }
    return SubscriptionView(**{**values, **fields})  # type: ignore[arg-type]


def test_a_contract_and_its_subscription_that_agree_make_no_finding() -> None:
    assert compare_contracts([contract()], {"crm-800A": subscription()}) == []
    # what the contract does not state is not compared; an ended contract, a cancelled one
    unstated = contract(plan=None, seats=None, renewal_date=None)
    assert compare_contracts([unstated], {"crm-800A": subscription(seats=99)}) == []
    ended = contract(active=False, seats=3)
    assert compare_contracts([ended], {"crm-800A": subscription(in_service=False)}) == []
    assert compare_contracts([contract(active=False)], {}) == []


def test_each_disagreement_of_a_contract_and_its_subscription_is_named() -> None:
    [found] = compare_contracts(
        [contract(seats=25, account_id="001B")],
        {"crm-800A": subscription(account_ids=("001A", "001C"))},
    )
    assert (found.kind, found.object_type, found.object_id) == (
        FindingKind.CRM_CONTRACT,
        "subscription",
        "crm-800A",
    )
    assert (dict(found.ours), dict(found.theirs)) == (
        {"account": "001A,001C", "seats": "10"},
        {"account": "001B", "seats": "25"},
    )
    # a contract no longer active beside a subscription with no end: only that is named
    [ended] = compare_contracts([contract(active=False, seats=3)], {"crm-800A": subscription()})
    assert (dict(ended.ours), dict(ended.theirs)) == (
        {"in_service": "true"},
        {"in_service": "false"},
    )


def test_a_contract_without_its_subscription_and_the_reverse_are_found() -> None:
    [missing] = compare_contracts([contract()], {})
    assert (missing.object_id, dict(missing.ours)) == ("crm-800A", {})
    assert missing.theirs["plan"] == "growth" and "no subscription" in missing.message
    [gone] = compare_contracts([], {"crm-800A": subscription()})
    assert gone.object_id == "crm-800A" and "contract is gone" in gone.message
    assert compare_contracts([], {"crm-800A": subscription(in_service=False)}) == []

"""The contract every CRM adapter passes (ports/crm.py): incremental pulls by watermark (each
change once, deletes seen, every page), account updates in batches with per-record outcomes,
keyed records created once and never duplicated (also after a lost answer), ownership checked
before any request, the request budget read and respected, locked rows retried, and expired
tokens renewed. The Salesforce adapter runs it against the CRM sandbox with the real
simple-salesforce client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from revsync.ports.crm import (
    AccountUpdate,
    CrmRefused,
    CrmUnavailable,
    KeyedRecord,
    OwnershipViolation,
)
from revsync.sandbox.crm import CrmSandbox, Fault
from revsync.sandbox.crm.deals import Item, add_product, sell
from tests.support.crm import Sleeps, with_crm

ACCOUNT = ["Name", "ParentId", "BillingCountry"]


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[CrmSandbox]:
    with CrmSandbox(tmp_path / "crm", page_size=5) as running:
        yield running


def accounts(sandbox: CrmSandbox, count: int, prefix: str = "Acme") -> list[str]:
    return [sandbox.create_record("Account", {"Name": f"{prefix} {n}"}) for n in range(count)]


def test_pulls_continue_from_the_watermark_and_see_every_change_once(
    sandbox: CrmSandbox,
) -> None:
    first_ids = accounts(sandbox, 12)  # more than two pages of five
    first = with_crm(sandbox, lambda crm: crm.pull("Account", ACCOUNT, None))
    assert [r.id for r in first.records] == first_ids
    assert first.watermark == first.records[-1].watermark
    assert first.records[0].fields["Name"] == "Acme 0"
    nothing = with_crm(sandbox, lambda crm: crm.pull("Account", ACCOUNT, first.watermark))
    assert (nothing.records, nothing.watermark) == ([], first.watermark)
    sandbox.update_record("Account", first_ids[3], {"BillingCountry": "FR"})
    sandbox.delete_record("Account", first_ids[7])
    [new] = accounts(sandbox, 1, prefix="Globex")
    later = with_crm(sandbox, lambda crm: crm.pull("Account", ACCOUNT, first.watermark))
    assert [(r.id, r.deleted) for r in later.records] == [
        (first_ids[3], False),
        (first_ids[7], True),
        (new, False),
    ]
    assert later.records[0].fields["BillingCountry"] == "FR"
    assert later.watermark is not None and later.watermark > first.watermark


def test_an_overlap_reads_again_what_changed_just_before_the_watermark(
    sandbox: CrmSandbox,
) -> None:
    ids = accounts(sandbox, 3)
    pulled = with_crm(sandbox, lambda crm: crm.pull("Account", ACCOUNT, None))
    mark = pulled.records[-1].watermark
    again = with_crm(sandbox, lambda crm: crm.pull("Account", ACCOUNT, mark, overlap_seconds=3600))
    assert [r.id for r in again.records] == ids


def test_account_updates_go_in_batches_of_200_with_an_outcome_per_record(
    sandbox: CrmSandbox,
) -> None:
    ids = accounts(sandbox, 250)
    sandbox.add_validation_rule(
        "Account",
        lambda r: "the score is 0-100" if (r.get("Revsync_Health_Score__c") or 0) > 100 else None,
    )
    updates = [AccountUpdate(i, {"Revsync_Health_Score__c": 80}) for i in ids]
    updates[5] = AccountUpdate(ids[5], {"Revsync_Health_Score__c": 180})
    sandbox.reset_request_counts()
    results = with_crm(sandbox, lambda crm: crm.update_accounts(updates))
    assert [r.account_id for r in results] == ids
    assert [r.ok for r in results].count(False) == 1
    assert not results[5].ok and "the score is 0-100" in (results[5].error or "")
    assert sandbox.request_counts()[("PATCH", "composite/sobjects")] == 2
    assert sandbox.get_record("Account", ids[0])["Revsync_Health_Score__c"] == 80
    assert sandbox.get_record("Account", ids[5])["Revsync_Health_Score__c"] is None


def test_a_field_the_crm_owns_is_refused_before_any_request(sandbox: CrmSandbox) -> None:
    [account] = accounts(sandbox, 1)
    sandbox.reset_request_counts()
    with pytest.raises(OwnershipViolation, match=r"Account\.Name: revsync may not write it"):
        with_crm(
            sandbox,
            lambda crm: crm.update_accounts(
                [AccountUpdate(account, {"Revsync_Health_Score__c": 1, "Name": "Renamed"})]
            ),
        )
    assert sandbox.request_counts() == {}
    assert sandbox.get_record("Account", account)["Name"] == "Acme 0"


def opportunity(account: str, key: str = "expansion:acme:api_calls:2026-09-01") -> KeyedRecord:
    return KeyedRecord(
        key=key,
        account_id=account,
        create_values={
            "Name": "Expansion: Acme",
            "StageName": "Prospecting",
            "CloseDate": "2026-12-31",
        },
        values={},
    )


def test_a_keyed_record_is_created_once_and_what_the_crm_owns_is_left_alone(
    sandbox: CrmSandbox,
) -> None:
    [account] = accounts(sandbox, 1)
    first = with_crm(sandbox, lambda crm: crm.put_keyed("Opportunity", opportunity(account)))
    assert first.created
    sandbox.update_record("Opportunity", first.record_id, {"StageName": "Negotiation"})
    again = with_crm(sandbox, lambda crm: crm.put_keyed("Opportunity", opportunity(account)))
    assert (again.record_id, again.created) == (first.record_id, False)
    [stored] = sandbox.records("Opportunity")
    assert (stored["StageName"], stored["AccountId"]) == ("Negotiation", account)
    found = with_crm(sandbox, lambda crm: crm.find_keyed("Opportunity", opportunity(account).key))
    assert found == first.record_id
    assert with_crm(sandbox, lambda crm: crm.find_keyed("Opportunity", "nothing")) is None


def test_after_a_lost_answer_the_record_is_found_not_created_twice(sandbox: CrmSandbox) -> None:
    [account] = accounts(sandbox, 1)
    sandbox.inject(
        Fault("STALL", method="POST", path="sobjects/Task", seconds=3, after_commit=True)
    )
    task = KeyedRecord("risk:acme:overdue:2026-11-27", account, {"Subject": "revsync: overdue"}, {})
    with pytest.raises(CrmUnavailable) as lost:
        with_crm(sandbox, lambda crm: crm.put_keyed("Task", task), timeout_seconds=1)
    assert lost.value.sent
    again = with_crm(sandbox, lambda crm: crm.put_keyed("Task", task))
    assert not again.created
    assert [t["Subject"] for t in sandbox.records("Task")] == ["revsync: overdue"]


def test_the_budget_is_read_and_the_adapter_slows_down_near_its_end(
    sandbox: CrmSandbox,
) -> None:
    accounts(sandbox, 1)
    sleeps = Sleeps()

    async def three_pulls(crm: Any) -> Any:
        await crm.pull("Account", ACCOUNT, None)
        first = crm.budget()
        sandbox.reset_usage(used=995, daily_limit=1000)  # 0.5% left, under the 10% reserve
        await crm.pull("Account", ACCOUNT, None)
        await crm.pull("Account", ACCOUNT, None)
        return first, crm.budget()

    first, last = with_crm(sandbox, three_pulls, sleep=sleeps)
    assert first.maximum == 15000 and first.used >= 1
    assert (last.maximum, last.remaining) == (1000, 3)
    assert len(sleeps.waits) == 1 and 4.5 < sleeps.waits[0] <= 5  # paced once it knew


def test_a_spent_budget_is_retriable_later_and_locked_rows_are_retried(
    sandbox: CrmSandbox,
) -> None:
    [account] = accounts(sandbox, 1)
    sandbox.inject(Fault("REQUEST_LIMIT_EXCEEDED", path="composite"))
    update = [AccountUpdate(account, {"Revsync_Overdue__c": True})]
    with pytest.raises(CrmUnavailable, match="request budget is spent") as spent:
        with_crm(sandbox, lambda crm: crm.update_accounts(update))
    assert spent.value.retry_after is not None and spent.value.retry_after >= 60
    sleeps = Sleeps()
    sandbox.inject(Fault("UNABLE_TO_LOCK_ROW", times=2, path="composite"))
    [result] = with_crm(sandbox, lambda crm: crm.update_accounts(update), sleep=sleeps)
    assert result.ok and sleeps.waits == [0.2, 0.4]
    assert sandbox.get_record("Account", account)["Revsync_Overdue__c"] is True
    sandbox.inject(Fault("UNABLE_TO_LOCK_ROW", times=9, path="composite"))
    with pytest.raises(CrmUnavailable, match="locked"):
        with_crm(sandbox, lambda crm: crm.update_accounts(update), sleep=Sleeps())
    sandbox.clear_faults()


def test_an_expired_token_is_renewed_and_an_outage_is_retriable(sandbox: CrmSandbox) -> None:
    accounts(sandbox, 2)

    async def across_a_revocation(crm: Any) -> int:
        await crm.pull("Account", ACCOUNT, None)
        sandbox.revoke_tokens()
        return len((await crm.pull("Account", ACCOUNT, None)).records)

    assert with_crm(sandbox, across_a_revocation, flow="password") == 2
    sandbox.inject(Fault("SERVER_UNAVAILABLE", path="query"))
    with pytest.raises(CrmUnavailable, match="HTTP 503"):
        with_crm(sandbox, lambda crm: crm.pull("Account", ACCOUNT, None))


def test_a_bad_request_is_refused_with_the_crms_words(sandbox: CrmSandbox) -> None:
    with pytest.raises(CrmRefused, match="INVALID_FIELD"):
        with_crm(sandbox, lambda crm: crm.pull("Account", ["No_Such_Field__c"], None))
    with pytest.raises(CrmRefused, match="credentials"):
        with_crm(sandbox, lambda crm: crm.pull("Account", ACCOUNT, None), secret="wrong")


def test_children_are_read_by_parent_with_their_parents_fields(sandbox: CrmSandbox) -> None:
    [account] = accounts(sandbox, 1)
    entries = {
        "SEAT": add_product(sandbox, "SEAT", "Seat", Decimal("49.00")),
        "BASE": add_product(sandbox, "BASE", "Platform", Decimal("500.00")),
    }
    items = [Item("BASE", 1), Item("SEAT", 12, discount=Decimal("12.5"))]
    first = sell(sandbox, account, "Acme — Growth", date(2026, 11, 30), items, entries)
    second = sell(sandbox, account, "Acme — more", date(2026, 12, 1), [Item("SEAT", 3)], entries)
    fields = ["Product2.ProductCode", "Product2.Name", "Quantity", "UnitPrice", "Discount"]
    found = with_crm(
        sandbox,
        lambda crm: crm.children("OpportunityLineItem", "OpportunityId", [first, second], fields),
    )
    assert {
        parent: [
            (
                r["Product2.ProductCode"],
                r["Product2.Name"],
                r["Quantity"],
                r["UnitPrice"],
                r["Discount"],
            )
            for r in rows
        ]
        for parent, rows in found.items()
    } == {
        first: [("BASE", "Platform", 1, 500, None), ("SEAT", "Seat", 12, 49, Decimal("12.5"))],
        second: [("SEAT", "Seat", 3, 49, None)],
    }
    assert all(
        r["OpportunityId"] in (first, second) and r["Id"] for rows in found.values() for r in rows
    )
    none = with_crm(
        sandbox,
        lambda crm: crm.children(
            "OpportunityLineItem", "OpportunityId", ["006000000000000AAA"], fields
        ),
    )
    assert none == {}


def test_a_record_of_the_crms_gets_only_the_fields_revsync_owns(sandbox: CrmSandbox) -> None:
    [account] = accounts(sandbox, 1)
    entries = {"SEAT": add_product(sandbox, "SEAT", "Seat", Decimal("49.00"))}
    won = sell(sandbox, account, "Acme — Growth", date(2026, 11, 30), [Item("SEAT", 2)], entries)
    values = {
        "Revsync_Subscription_Id__c": f"opp-{won}",
        "Revsync_Subscription_Status__c": "active",
    }
    for _ in range(2):  # the same values again change nothing
        with_crm(sandbox, lambda crm: crm.update_record("Opportunity", won, values))
    stored = sandbox.get_record("Opportunity", won)
    assert stored is not None
    assert {k: stored[k] for k in values} == values
    assert (stored["StageName"], stored["IsWon"]) == ("Closed Won", True)
    sandbox.reset_request_counts()
    with pytest.raises(OwnershipViolation, match=r"Opportunity\.StageName: revsync may not write"):
        with_crm(
            sandbox, lambda crm: crm.update_record("Opportunity", won, {"StageName": "Closed Lost"})
        )
    assert sandbox.request_counts() == {}

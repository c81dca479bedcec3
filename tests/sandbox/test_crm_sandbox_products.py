"""What a closed-won opportunity sells, in the CRM sandbox, driven by the real simple-salesforce
client: products, the standard and custom price books, price book entries, opportunity lines
with their totals, the opportunity's Amount, IsWon / IsClosed, and the queries a quote-to-cash
sync runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from revsync.sandbox.crm import CrmSandbox
from revsync.sandbox.crm.ids import STANDARD_PRICEBOOK_ID
from tests.sandbox.test_crm_sandbox import connect

CLOCK_START = datetime(2026, 6, 15, 12, 0, 0, tzinfo=UTC)


# -- helpers -------------------------------------------------------------------------------------


def fixed_clock() -> datetime:
    return CLOCK_START


def refusal(caught: pytest.ExceptionInfo[SalesforceMalformedRequest]) -> dict[str, Any]:
    """The one error of a refused request, as simple-salesforce carries it."""
    assert caught.value.status == 400
    [error] = caught.value.content
    return dict(error)


def product(sf: Salesforce, name: str, code: str, price: float, **extra: Any) -> dict[str, str]:
    """A product with an active standard price; its id and the standard entry's."""
    product_id = sf.Product2.create({"Name": name, "ProductCode": code, "IsActive": True, **extra})[
        "id"
    ]
    entry_id = sf.PricebookEntry.create(
        {
            "Pricebook2Id": STANDARD_PRICEBOOK_ID,
            "Product2Id": product_id,
            "UnitPrice": price,
            "IsActive": True,
        }
    )["id"]
    return {"product": product_id, "entry": entry_id}


def opportunity(sf: Salesforce, name: str, **extra: Any) -> str:
    account = sf.Account.create({"Name": f"{name} Account"})["id"]
    values = {"Name": name, "AccountId": account, "StageName": "Prospecting"}
    return str(sf.Opportunity.create({**values, "CloseDate": "2026-09-30", **extra})["id"])


def line(sf: Salesforce, opportunity_id: str, entry_id: str, **values: Any) -> str:
    created = sf.OpportunityLineItem.create(
        {"OpportunityId": opportunity_id, "PricebookEntryId": entry_id, **values}
    )
    return str(created["id"])


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrmSandbox]:
    folder = tmp_path_factory.mktemp("crm-products")
    with CrmSandbox(folder, clock=fixed_clock) as started:
        yield started


@pytest.fixture
def sf(sandbox: CrmSandbox) -> Salesforce:
    return connect(sandbox)


# -- the catalogue ---------------------------------------------------------------------------------


def test_the_new_objects_are_described_with_salesforce_prefixes(sf: Salesforce) -> None:
    listed = {o["name"]: o for o in sf.describe()["sobjects"]}
    prefixes = {
        name: listed[name]["keyPrefix"]
        for name in ("Product2", "Pricebook2", "PricebookEntry", "OpportunityLineItem")
    }
    assert prefixes == {
        "Product2": "01t",
        "Pricebook2": "01s",
        "PricebookEntry": "01u",
        "OpportunityLineItem": "00k",
    }
    assert listed["OpportunityLineItem"]["label"] == "Opportunity Product"

    products = {f["name"]: f for f in sf.Product2.describe()["fields"]}
    assert "OwnerId" not in products
    assert (products["IsActive"]["type"], products["IsActive"]["defaultedOnCreate"]) == (
        "boolean",
        True,
    )
    assert (products["Family"]["type"], products["Family"]["restrictedPicklist"]) == (
        "picklist",
        False,
    )
    entries = {f["name"]: f for f in sf.PricebookEntry.describe()["fields"]}
    assert entries["Pricebook2Id"]["referenceTo"] == ["Pricebook2"]
    assert (entries["Product2Id"]["relationshipName"], entries["Product2Id"]["updateable"]) == (
        "Product2",
        False,
    )
    assert entries["UnitPrice"]["type"] == "currency"
    assert entries["ProductCode"]["createable"] is False
    lines = {f["name"]: f for f in sf.OpportunityLineItem.describe()["fields"]}
    assert lines["PricebookEntryId"]["relationshipName"] == "PricebookEntry"
    assert lines["Quantity"]["type"] == "double"
    assert lines["Discount"]["type"] == "percent"
    assert (lines["TotalPrice"]["type"], lines["TotalPrice"]["createable"]) == ("currency", False)
    assert lines["ServiceDate"]["type"] == "date"
    opportunities = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}
    assert opportunities["Pricebook2Id"]["relationshipName"] == "Pricebook2"
    assert opportunities["ContractId"]["referenceTo"] == ["Contract"]
    assert (opportunities["IsWon"]["type"], opportunities["IsWon"]["updateable"]) == (
        "boolean",
        False,
    )
    assert "Revsync_Key__c" in opportunities


def test_a_product_is_inactive_unless_told_and_needs_a_name(sf: Salesforce) -> None:
    product_id = sf.Product2.create(
        {"Name": "Catalogue Widget", "ProductCode": "CAT-W", "Family": "Any Family At All"}
    )["id"]
    assert product_id.startswith("01t")
    record = sf.Product2.get(product_id)
    assert (record["Name"], record["ProductCode"], record["Family"]) == (
        "Catalogue Widget",
        "CAT-W",
        "Any Family At All",
    )
    assert record["IsActive"] is False
    assert "OwnerId" not in record
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Product2.create({"ProductCode": "NO-NAME"})
    assert refusal(caught)["errorCode"] == "REQUIRED_FIELD_MISSING"


def test_the_standard_price_book_is_there_from_the_start_and_stays(sf: Salesforce) -> None:
    standard = sf.query(
        "SELECT Id, Name, IsActive, IsStandard FROM Pricebook2 WHERE IsStandard = true"
    )
    assert [(r["Id"], r["Name"], r["IsActive"]) for r in standard["records"]] == [
        (STANDARD_PRICEBOOK_ID, "Standard Price Book", True)
    ]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Pricebook2.delete(STANDARD_PRICEBOOK_ID)
    assert refusal(caught)["errorCode"] == "DELETE_FAILED"
    assert sf.Pricebook2.get(STANDARD_PRICEBOOK_ID)["IsStandard"] is True

    custom = sf.Pricebook2.create({"Name": "Partners"})["id"]
    assert custom.startswith("01s") and custom != STANDARD_PRICEBOOK_ID
    record = sf.Pricebook2.get(custom)
    assert (record["IsStandard"], record["IsActive"]) == (False, False)
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Pricebook2.create({"Name": "Another Standard", "IsStandard": True})
    assert refusal(caught)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_a_custom_price_needs_the_standard_price_first_and_is_unique(sf: Salesforce) -> None:
    product_id = sf.Product2.create({"Name": "Priced Thing", "ProductCode": "PRICED"})["id"]
    book = sf.Pricebook2.create({"Name": "Resellers", "IsActive": True})["id"]
    custom = {"Pricebook2Id": book, "Product2Id": product_id, "UnitPrice": 99.0}
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.PricebookEntry.create(custom)
    assert refusal(caught) == {
        "message": "No standard price defined for this product",
        "errorCode": "STANDARD_PRICE_NOT_DEFINED",
        "fields": [],
    }

    standard = {"Pricebook2Id": STANDARD_PRICEBOOK_ID, "Product2Id": product_id, "UnitPrice": 120.0}
    standard_id = sf.PricebookEntry.create(standard)["id"]
    assert standard_id.startswith("01u")
    entry = sf.PricebookEntry.get(standard_id)
    assert (entry["Name"], entry["ProductCode"], entry["UnitPrice"]) == (
        "Priced Thing",
        "PRICED",
        120.0,
    )
    assert (entry["IsActive"], entry["UseStandardPrice"]) == (False, False)
    custom_id = sf.PricebookEntry.create(custom)["id"]
    assert sf.PricebookEntry.get(custom_id)["UnitPrice"] == 99.0

    for again in (custom, standard):
        with pytest.raises(SalesforceMalformedRequest) as caught:
            sf.PricebookEntry.create({**again, "UnitPrice": 1.0})
        assert refusal(caught)["errorCode"] == "DUPLICATE_VALUE"

    other_book = sf.Pricebook2.create({"Name": "Follows Standard"})["id"]
    follows = sf.PricebookEntry.create(
        {"Pricebook2Id": other_book, "Product2Id": product_id, "UseStandardPrice": True}
    )["id"]
    assert sf.PricebookEntry.get(follows)["UnitPrice"] == 120.0

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.PricebookEntry.update(custom_id, {"Pricebook2Id": other_book})
    assert refusal(caught)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.PricebookEntry.create({"Pricebook2Id": book, "Product2Id": product_id})
    assert refusal(caught)["errorCode"] == "REQUIRED_FIELD_MISSING"


# -- opportunity lines -----------------------------------------------------------------------------


def test_lines_price_themselves_and_the_opportunity_sums_them(
    sf: Salesforce, sandbox: CrmSandbox
) -> None:
    platform = product(sf, "Platform", "PLAT", 120.0)
    seats = product(sf, "Seats", "SEAT", 19.99)
    support = product(sf, "Support", "SUPP", 33.33)
    deal = opportunity(sf, "Priced Deal")
    assert sf.Opportunity.get(deal)["Pricebook2Id"] is None

    first = line(sf, deal, platform["entry"], Quantity=3, Discount=10, ServiceDate="2026-07-01")
    assert first.startswith("00k")
    record = sf.OpportunityLineItem.get(first)
    assert record["UnitPrice"] == 120.0  # the entry's price, none given
    assert record["TotalPrice"] == 324.0  # 3 × 120.00 less 10%
    assert (record["Product2Id"], record["Name"]) == (platform["product"], "Platform")
    assert record["ServiceDate"] == "2026-07-01"
    opened = sf.Opportunity.get(deal)
    assert (opened["Pricebook2Id"], opened["Amount"]) == (STANDARD_PRICEBOOK_ID, 324.0)

    second = line(sf, deal, seats["entry"], Quantity=7, UnitPrice=18.5)
    assert sf.OpportunityLineItem.get(second)["TotalPrice"] == 129.5  # 7 × 18.50
    third = line(sf, deal, support["entry"], Quantity=3, Discount=12.5)
    assert sf.OpportunityLineItem.get(third)["TotalPrice"] == 87.49  # 99.99 less 12.5%: 87.49125
    assert sf.Opportunity.get(deal)["Amount"] == 540.99  # 324.00 + 129.50 + 87.49

    before = sandbox.get_record("Opportunity", deal)["SystemModstamp"]
    sf.OpportunityLineItem.update(second, {"Quantity": 10})
    assert sf.OpportunityLineItem.get(second)["TotalPrice"] == 185.0
    changed = sf.Opportunity.get(deal)
    assert changed["Amount"] == 596.49  # 324.00 + 185.00 + 87.49
    assert changed["SystemModstamp"] > before
    sf.OpportunityLineItem.delete(third)
    assert sf.Opportunity.get(deal)["Amount"] == 509.0  # 324.00 + 185.00
    sf.Opportunity.update(deal, {"Amount": 1.0})
    assert sf.Opportunity.get(deal)["Amount"] == 509.0  # an opportunity with lines sums them

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.OpportunityLineItem.update(first, {"TotalPrice": 1.0})
    assert refusal(caught)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    for removed in (first, second):
        sf.OpportunityLineItem.delete(removed)
    assert sf.Opportunity.get(deal)["Amount"] == 0.0


def test_a_line_needs_an_active_entry_of_the_opportunitys_price_book(sf: Salesforce) -> None:
    gadget = product(sf, "Gadget", "GADG", 50.0)
    book = sf.Pricebook2.create({"Name": "Gadget Deals", "IsActive": True})["id"]
    custom_entry = sf.PricebookEntry.create(
        {"Pricebook2Id": book, "Product2Id": gadget["product"], "UnitPrice": 45.0}
    )["id"]
    deal = opportunity(sf, "Gadget Deal", Pricebook2Id=book)

    with pytest.raises(SalesforceMalformedRequest) as caught:
        line(sf, deal, custom_entry, Quantity=1)
    inactive = refusal(caught)
    assert inactive["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert inactive["fields"] == ["PricebookEntryId"]
    assert "inactive" in inactive["message"]

    with pytest.raises(SalesforceMalformedRequest) as caught:
        line(sf, deal, gadget["entry"], Quantity=1)
    assert refusal(caught) == {
        "message": "PricebookEntry is in a different pricebook than the one assigned to the "
        "Opportunity",
        "errorCode": "FIELD_INTEGRITY_EXCEPTION",
        "fields": ["PricebookEntryId"],
    }

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.OpportunityLineItem.create({"OpportunityId": deal, "Quantity": 1})
    assert refusal(caught)["errorCode"] == "REQUIRED_FIELD_MISSING"

    sf.PricebookEntry.update(custom_entry, {"IsActive": True})
    sold = line(sf, deal, custom_entry, Quantity=2)
    assert sf.OpportunityLineItem.get(sold)["TotalPrice"] == 90.0
    assert sf.Opportunity.get(deal)["Amount"] == 90.0
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Opportunity.update(deal, {"Pricebook2Id": STANDARD_PRICEBOOK_ID})
    assert refusal(caught)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


def test_a_line_the_opportunity_refuses_leaves_nothing_behind(
    sf: Salesforce, sandbox: CrmSandbox
) -> None:
    sandbox.add_validation_rule(
        "Opportunity",
        lambda r: (
            "Capped deals stay under 1000"
            if r.get("Name") == "Capped Deal" and (r.get("Amount") or 0) > 1000
            else None
        ),
    )
    item = product(sf, "Capped Item", "CAPD", 400.0)
    deal = opportunity(sf, "Capped Deal")
    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": False,
            "records": [
                {
                    "attributes": {"type": "OpportunityLineItem"},
                    "OpportunityId": deal,
                    "PricebookEntryId": item["entry"],
                    "Quantity": quantity,
                }
                for quantity in (2, 1)
            ],
        },
    )
    assert results[0]["success"] is True
    assert results[1]["success"] is False
    assert results[1]["errors"][0]["statusCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    kept = sf.query(
        format_soql("SELECT Id FROM OpportunityLineItem WHERE OpportunityId = {}", deal)
    )
    assert [r["Id"] for r in kept["records"]] == [results[0]["id"]]
    assert sf.Opportunity.get(deal)["Amount"] == 800.0


def test_is_won_and_is_closed_follow_the_stage(sf: Salesforce) -> None:
    deal = opportunity(sf, "Staged Deal")
    flags = ("IsClosed", "IsWon")
    assert [sf.Opportunity.get(deal)[f] for f in flags] == [False, False]
    sf.Opportunity.update(deal, {"StageName": "Closed Won"})
    assert [sf.Opportunity.get(deal)[f] for f in flags] == [True, True]
    sf.Opportunity.update(deal, {"StageName": "Closed Lost"})
    assert [sf.Opportunity.get(deal)[f] for f in flags] == [True, False]
    sf.Opportunity.update(deal, {"StageName": "Negotiation"})
    assert [sf.Opportunity.get(deal)[f] for f in flags] == [False, False]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Opportunity.update(deal, {"IsWon": True})
    assert refusal(caught)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    contract_account = sf.Opportunity.get(deal)["AccountId"]
    contract = sf.Contract.create({"AccountId": contract_account})["id"]
    sf.Opportunity.update(deal, {"ContractId": contract})
    assert sf.Opportunity.get(deal)["ContractId"] == contract


# -- the quote-to-cash queries -------------------------------------------------------------------


def test_the_quote_to_cash_queries(sf: Salesforce) -> None:
    metered = product(sf, "Metered API", "Q2C-API", 0.25)
    onboarding = product(sf, "Onboarding", "Q2C-ONB", 1500.0)
    won_first = opportunity(sf, "Q2C Won First")
    won_second = opportunity(sf, "Q2C Won Second")
    lost = opportunity(sf, "Q2C Lost")
    api_line = line(sf, won_first, metered["entry"], Quantity=10000, ServiceDate="2026-07-01")
    onboarding_line = line(sf, won_first, onboarding["entry"], Quantity=1, Discount=20)
    other_line = line(sf, won_second, onboarding["entry"], Quantity=2)
    line(sf, lost, onboarding["entry"], Quantity=1)
    for deal in (won_second, lost, won_first):
        stage = "Closed Lost" if deal == lost else "Closed Won"
        sf.Opportunity.update(deal, {"StageName": stage})

    won = sf.query_all(
        "SELECT Id, Name, StageName, IsWon, Amount, AccountId, Pricebook2Id, SystemModstamp "
        "FROM Opportunity WHERE IsWon = true AND SystemModstamp > 2026-01-01T00:00:00Z "
        "ORDER BY SystemModstamp, Id"
    )
    records = won["records"]
    assert all(r["IsWon"] and r["StageName"] == "Closed Won" for r in records)
    stamps = [r["SystemModstamp"] for r in records]
    assert stamps == sorted(stamps)
    mine = {r["Id"]: r for r in records if r["Name"].startswith("Q2C")}
    assert list(mine) == [won_second, won_first]
    assert mine[won_first]["Amount"] == 3700.0  # 10000 × 0.25 + 1500.00 less 20%
    assert mine[won_second]["Amount"] == 3000.0
    assert mine[won_first]["Pricebook2Id"] == STANDARD_PRICEBOOK_ID

    lines = sf.query(
        format_soql(
            "SELECT Id, OpportunityId, Quantity, UnitPrice, Discount, TotalPrice, ServiceDate, "
            "PricebookEntry.Product2.ProductCode, Product2.ProductCode, Product2.Name "
            "FROM OpportunityLineItem WHERE OpportunityId IN {} ORDER BY Id",
            [won_first, won_second],
        )
    )
    got = [
        (
            r["Id"],
            r["OpportunityId"],
            r["Quantity"],
            r["UnitPrice"],
            r["Discount"],
            r["TotalPrice"],
            r["ServiceDate"],
            r["PricebookEntry"]["Product2"]["ProductCode"],
            r["Product2"]["ProductCode"],
            r["Product2"]["Name"],
        )
        for r in lines["records"]
    ]
    assert got == [
        (
            api_line,
            won_first,
            10000.0,
            0.25,
            None,
            2500.0,
            "2026-07-01",
            "Q2C-API",
            "Q2C-API",
            "Metered API",
        ),
        (
            onboarding_line,
            won_first,
            1.0,
            1500.0,
            20.0,
            1200.0,
            None,
            "Q2C-ONB",
            "Q2C-ONB",
            "Onboarding",
        ),
        (
            other_line,
            won_second,
            2.0,
            1500.0,
            None,
            3000.0,
            None,
            "Q2C-ONB",
            "Q2C-ONB",
            "Onboarding",
        ),
    ]
    nested = lines["records"][0]
    assert nested["PricebookEntry"]["attributes"]["type"] == "PricebookEntry"
    assert nested["PricebookEntry"]["Product2"]["attributes"]["type"] == "Product2"

    book = sf.Pricebook2.create({"Name": "Q2C Partners", "IsActive": True})["id"]
    partner_entry = sf.PricebookEntry.create(
        {"Pricebook2Id": book, "Product2Id": metered["product"], "UnitPrice": 0.2}
    )["id"]
    entries = sf.query(
        format_soql(
            "SELECT Id, UnitPrice, Product2Id, Product2.ProductCode, Pricebook2.IsStandard "
            "FROM PricebookEntry WHERE Pricebook2Id = {}",
            book,
        )
    )
    assert [
        (
            r["Id"],
            r["UnitPrice"],
            r["Product2Id"],
            r["Product2"]["ProductCode"],
            r["Pricebook2"]["IsStandard"],
        )
        for r in entries["records"]
    ] == [(partner_entry, 0.2, metered["product"], "Q2C-API", False)]
    standard = sf.query(
        format_soql(
            "SELECT Id, Pricebook2.IsStandard FROM PricebookEntry WHERE Product2Id = {}",
            metered["product"],
        )
    )
    assert {r["Id"]: r["Pricebook2"]["IsStandard"] for r in standard["records"]} == {
        metered["entry"]: True,
        partner_entry: False,
    }


# -- deletes ---------------------------------------------------------------------------------------


def test_deleting_an_opportunity_deletes_its_lines(sf: Salesforce) -> None:
    item = product(sf, "Cascade Item", "CASC", 10.0)
    deal = opportunity(sf, "Cascade Deal")
    lines = [line(sf, deal, item["entry"], Quantity=n) for n in (1, 2)]
    sf.Opportunity.delete(deal)
    live = sf.query(
        format_soql("SELECT Id FROM OpportunityLineItem WHERE OpportunityId = {}", deal)
    )
    assert live["records"] == []
    every = sf.query_all(
        format_soql("SELECT Id, IsDeleted FROM OpportunityLineItem WHERE OpportunityId = {}", deal),
        include_deleted=True,
    )
    assert [(r["Id"], r["IsDeleted"]) for r in every["records"]] == [(i, True) for i in lines]
    with pytest.raises(SalesforceResourceNotFound):
        sf.OpportunityLineItem.get(lines[0])


def test_what_is_sold_on_a_line_cannot_be_deleted(sf: Salesforce) -> None:
    item = product(sf, "Sold Item", "SOLD", 10.0)
    book = sf.Pricebook2.create({"Name": "Sold Book", "IsActive": True})["id"]
    custom_entry = sf.PricebookEntry.create(
        {"Pricebook2Id": book, "Product2Id": item["product"], "UnitPrice": 9.0, "IsActive": True}
    )["id"]
    deal = opportunity(sf, "Sold Deal")
    sold = line(sf, deal, custom_entry, Quantity=1)

    refused = [
        (sf.Product2, item["product"]),
        (sf.Pricebook2, book),
        (sf.PricebookEntry, custom_entry),
        (sf.PricebookEntry, item["entry"]),  # the standard price, while a custom one exists
    ]
    for sobject, record_id in refused:
        with pytest.raises(SalesforceMalformedRequest) as caught:
            sobject.delete(record_id)
        assert refusal(caught)["errorCode"] == "DELETE_FAILED"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Product2.delete(item["product"])
    assert "Sold Deal" in refusal(caught)["message"]

    sf.OpportunityLineItem.delete(sold)
    assert sf.Product2.delete(item["product"]) == 204
    left = sf.query(
        format_soql("SELECT Id FROM PricebookEntry WHERE Product2Id = {}", item["product"])
    )
    assert left["records"] == []
    assert sf.Pricebook2.get(book)["Name"] == "Sold Book"


# -- persistence -----------------------------------------------------------------------------------


def test_the_catalogue_and_lines_survive_a_restart(tmp_path: Path) -> None:
    with CrmSandbox(tmp_path, clock=fixed_clock) as first:
        sf = connect(first)
        item = product(sf, "Kept Item", "KEPT", 12.5)
        book = sf.Pricebook2.create({"Name": "Kept Book"})["id"]
        deal = opportunity(sf, "Kept Deal")
        kept_line = line(sf, deal, item["entry"], Quantity=4, Discount=5)
        standard_stamp = first.get_record("Pricebook2", STANDARD_PRICEBOOK_ID)["SystemModstamp"]
        first_stamp = first.get_record("Product2", item["product"])["SystemModstamp"]
    assert standard_stamp < first_stamp == "2026-06-15T12:00:00.000+0000"
    with CrmSandbox(tmp_path, clock=fixed_clock) as second:
        sf = connect(second)
        assert sf.OpportunityLineItem.get(kept_line)["TotalPrice"] == 47.5  # 4 × 12.50 less 5%
        assert sf.Opportunity.get(deal)["Amount"] == 47.5
        assert sf.PricebookEntry.get(item["entry"])["ProductCode"] == "KEPT"
        books = sf.query("SELECT Id, IsStandard FROM Pricebook2 ORDER BY Id")
        assert [(r["Id"], r["IsStandard"]) for r in books["records"]] == [
            (STANDARD_PRICEBOOK_ID, True),
            (book, False),
        ]
        newer = sf.Pricebook2.create({"Name": "After Restart"})["id"]
        assert newer not in (book, STANDARD_PRICEBOOK_ID)

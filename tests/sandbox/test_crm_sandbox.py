"""The Salesforce-compatible CRM sandbox, driven by the real simple-salesforce client over HTTPS.

One seeded sandbox serves the module; tests that need a folder of their own (persistence,
seeding) start one in ``tmp_path``. Every test leaves the shared sandbox's faults, budget and
token lifetime as it found them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from revsync.sandbox.crm import CrmSandbox, CustomField, Fault

SF_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")
PAGE_SIZE = 10
SEED_DATE = date(2026, 6, 15)


# -- helpers -------------------------------------------------------------------------------------


def https_session(sandbox: CrmSandbox) -> requests.Session:
    """A session that verifies the sandbox's certificate.

    ``trust_env`` is off because requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the
    environment override ``session.verify``.
    """
    session = requests.Session()
    session.verify = str(sandbox.cert_path)
    session.trust_env = False
    return session


def password_form(sandbox: CrmSandbox, **changes: str) -> dict[str, str]:
    creds = sandbox.credentials
    form = {
        "grant_type": "password",
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "username": creds.username,
        "password": creds.password,
    }
    return form | changes


def fetch_token(sandbox: CrmSandbox, **changes: str) -> str:
    response = https_session(sandbox).post(
        sandbox.token_url, data=password_form(sandbox, **changes)
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def connect(sandbox: CrmSandbox, token: str | None = None) -> Salesforce:
    """The real client, as a connector builds it: instance URL, a token, a verifying session."""
    return Salesforce(
        instance_url=sandbox.url,
        session_id=token or fetch_token(sandbox),
        session=https_session(sandbox),
    )


def parse_sf_datetime(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


def account_names(result: dict[str, Any]) -> list[str]:
    return [r["Name"] for r in result["records"]]


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrmSandbox]:
    folder = tmp_path_factory.mktemp("crm")
    with CrmSandbox(folder, seed=12, page_size=PAGE_SIZE, seed_date=SEED_DATE) as started:
        yield started


@pytest.fixture(autouse=True)
def _restore(sandbox: CrmSandbox) -> Iterator[None]:
    yield
    sandbox.clear_faults()
    sandbox.reset_usage(0, 15000)
    sandbox.set_token_lifetime(7200)


@pytest.fixture
def sf(sandbox: CrmSandbox) -> Salesforce:
    return connect(sandbox)


# -- OAuth2 ----------------------------------------------------------------------------------------


def test_versions_are_listed_without_a_token(sandbox: CrmSandbox) -> None:
    response = https_session(sandbox).get(f"{sandbox.url}/services/data/")
    assert response.status_code == 200
    assert {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"} in (
        response.json()
    )


def test_the_password_grant_answers_as_salesforce_does(sandbox: CrmSandbox) -> None:
    response = https_session(sandbox).post(sandbox.token_url, data=password_form(sandbox))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
    }
    assert body["instance_url"] == sandbox.url
    assert body["token_type"] == "Bearer"
    assert body["id"].startswith(f"{sandbox.url}/id/00D")
    assert abs(int(body["issued_at"]) - time.time() * 1000) < 60_000
    expected = hmac.new(
        sandbox.credentials.client_secret.encode(),
        (body["id"] + body["issued_at"]).encode(),
        hashlib.sha256,
    ).digest()
    assert base64.b64decode(body["signature"]) == expected


def test_client_credentials_work_in_the_body_and_as_basic_auth(sandbox: CrmSandbox) -> None:
    creds = sandbox.credentials
    http = https_session(sandbox)
    in_body = http.post(
        sandbox.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        },
    )
    as_basic = http.post(
        sandbox.token_url,
        data={"grant_type": "client_credentials"},
        auth=(creds.client_id, creds.client_secret),
    )
    for response in (in_body, as_basic):
        assert response.status_code == 200, response.text
        sf = connect(sandbox, response.json()["access_token"])
        assert sf.query("SELECT COUNT() FROM Account")["totalSize"] >= 12


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"password": "wrong"}, "invalid_grant"),
        ({"username": "someone@else.test"}, "invalid_grant"),
        ({"client_secret": "wrong"}, "invalid_grant"),
        ({"client_id": "other-app"}, "invalid_grant"),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
    ],
)
def test_bad_credentials_are_refused(
    sandbox: CrmSandbox, changes: dict[str, str], error: str
) -> None:
    response = https_session(sandbox).post(
        sandbox.token_url, data=password_form(sandbox, **changes)
    )
    assert response.status_code == 400
    assert response.json()["error"] == error
    if error == "invalid_grant":
        assert response.json() == {
            "error": "invalid_grant",
            "error_description": "authentication failure",
        }


def test_a_call_without_a_valid_token_is_an_expired_session(sandbox: CrmSandbox) -> None:
    sf = connect(sandbox, token="00Dnot-a-token")
    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM Account")
    assert caught.value.status == 401
    assert caught.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_tokens_expire_and_can_be_revoked(sandbox: CrmSandbox) -> None:
    sandbox.set_token_lifetime(0.3)
    short_lived = connect(sandbox)
    assert short_lived.query("SELECT COUNT() FROM Account")["totalSize"] > 0
    time.sleep(0.4)
    with pytest.raises(SalesforceExpiredSession):
        short_lived.query("SELECT COUNT() FROM Account")

    sandbox.set_token_lifetime(7200)
    fresh = connect(sandbox)
    assert fresh.query("SELECT COUNT() FROM Account")["totalSize"] > 0
    sandbox.revoke_tokens()
    with pytest.raises(SalesforceExpiredSession):
        fresh.Account.describe()
    assert connect(sandbox).query("SELECT COUNT() FROM Account")["totalSize"] > 0


# -- records -------------------------------------------------------------------------------------


def test_create_read_update_delete(sf: Salesforce, sandbox: CrmSandbox) -> None:
    created = sf.Account.create({"Name": "Crud Co", "Revsync_Overdue__c": True})
    assert created["success"] is True
    assert created["errors"] == []
    account_id = created["id"]
    assert len(account_id) == 18
    assert account_id.startswith("001")

    record = sf.Account.get(account_id)
    assert record["attributes"] == {
        "type": "Account",
        "url": f"/services/data/v59.0/sobjects/Account/{account_id}",
    }
    assert record["Name"] == "Crud Co"
    assert record["Revsync_Overdue__c"] is True
    assert record["IsDeleted"] is False
    assert record["OwnerId"].startswith("005")
    assert record["ParentId"] is None
    for name in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
        assert SF_DATETIME.fullmatch(record[name]), record[name]

    assert sf.Account.update(account_id, {"Name": "Crud Co Renamed"}) == 204
    by_short_id = sf.Account.get(account_id[:15])
    assert by_short_id["Name"] == "Crud Co Renamed"
    assert by_short_id["SystemModstamp"] > record["SystemModstamp"]

    assert sf.Account.delete(account_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Account.get(account_id)
    assert caught.value.content[0]["errorCode"] == "NOT_FOUND"
    assert sandbox.get_record("Account", account_id, include_deleted=True)["IsDeleted"] is True


@pytest.mark.parametrize(
    ("values", "code", "mentions"),
    [
        ({"Name": "X", "Colour__c": "red"}, "INVALID_FIELD", "Colour__c"),
        ({"Industry": "Retail"}, "REQUIRED_FIELD_MISSING", "Name"),
        (
            {"Name": "X", "CreatedDate": "2026-01-01T00:00:00Z"},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            "CreatedDate",
        ),
        (
            {"Name": "X", "Revsync_Health_Score__c": "high"},
            "JSON_PARSER_ERROR",
            "Revsync_Health_Score__c",
        ),
        ({"Name": "X", "ParentId": "001Rv0000000zzz"}, "INVALID_CROSS_REFERENCE_KEY", "Parent"),
        ({"Name": "X", "ParentId": "not-an-id"}, "MALFORMED_ID", "Parent"),
        (
            {"Name": "X", "Revsync_Customer_Id__c": "CUST-0001"},
            "DUPLICATE_VALUE",
            "Revsync_Customer_Id__c",
        ),
    ],
)
def test_a_create_salesforce_would_refuse_is_refused(
    sf: Salesforce, values: dict[str, Any], code: str, mentions: str
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.create(values)
    assert caught.value.status == 400
    [error] = caught.value.content
    assert error["errorCode"] == code
    assert mentions in error["message"]
    assert isinstance(error["fields"], list)


def test_a_validation_rule_refuses_with_its_message(sf: Salesforce, sandbox: CrmSandbox) -> None:
    sandbox.add_validation_rule(
        "Opportunity",
        lambda r: "Amount must be positive" if (r.get("Amount") or 0) < 0 else None,
    )
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Opportunity.create(
            {"Name": "Bad", "StageName": "Prospecting", "CloseDate": "2026-09-30", "Amount": -5}
        )
    assert caught.value.content == [
        {
            "message": "Amount must be positive",
            "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "fields": [],
        }
    ]


def test_describe_lists_the_fields_and_what_can_be_done_with_them(sf: Salesforce) -> None:
    described = sf.Account.describe()
    assert described["name"] == "Account"
    assert described["keyPrefix"] == "001"
    fields = {f["name"]: f for f in described["fields"]}
    keys = {"name", "type", "updateable", "createable", "custom", "externalId", "nillable"}
    assert all(keys <= set(f) for f in fields.values())
    assert fields["Name"]["nillable"] is False
    assert fields["Name"]["custom"] is False
    assert fields["ParentId"]["relationshipName"] == "Parent"
    assert fields["SystemModstamp"]["type"] == "datetime"
    assert fields["SystemModstamp"]["updateable"] is False
    external = fields["Revsync_Customer_Id__c"]
    assert (external["custom"], external["externalId"], external["unique"]) == (True, True, True)
    assert fields["Revsync_Overdue__c"]["type"] == "boolean"
    assert fields["Revsync_Last_Invoice_Amount__c"]["type"] == "currency"
    contract = {f["name"]: f for f in sf.Contract.describe()["fields"]}
    assert contract["EndDate"]["createable"] is False
    assert contract["Renewal_Date__c"]["type"] == "date"


def test_a_contract_computes_its_end_date_and_number(sf: Salesforce) -> None:
    account = sf.Account.create({"Name": "Contracted Ltd"})["id"]
    contract_id = sf.Contract.create(
        {
            "AccountId": account,
            "StartDate": "2026-03-01",
            "ContractTerm": 12,
            "Plan__c": "growth",
            "Seats__c": 40,
        }
    )["id"]
    assert contract_id.startswith("800")
    contract = sf.Contract.get(contract_id)
    assert contract["EndDate"] == "2027-02-28"
    assert contract["Status"] == "Draft"
    assert re.fullmatch(r"\d{8}", contract["ContractNumber"])
    assert contract["Seats__c"] == 40
    sf.Contract.update(contract_id, {"Status": "Activated"})
    assert SF_DATETIME.fullmatch(sf.Contract.get(contract_id)["ActivatedDate"])
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Contract.update(contract_id, {"Status": "Signed"})
    assert caught.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_upsert_creates_then_updates(sf: Salesforce) -> None:
    first = sf.Account.upsert(
        "Revsync_Customer_Id__c/cust-upsert-1", {"Name": "Upsert Inc"}, raw_response=True
    )
    assert first.status_code == 201
    assert first.json()["created"] is True
    assert first.json()["success"] is True
    second = sf.Account.upsert(
        "Revsync_Customer_Id__c/cust-upsert-1",
        {"Name": "Upsert Inc", "Revsync_Health_Score__c": 71.5},
        raw_response=True,
    )
    assert second.status_code == 200
    assert second.json() == {
        "id": first.json()["id"],
        "success": True,
        "errors": [],
        "created": False,
    }
    record = sf.Account.get_by_custom_id("Revsync_Customer_Id__c", "cust-upsert-1")
    assert record["Id"] == first.json()["id"]
    assert record["Revsync_Health_Score__c"] == 71.5


def test_upsert_matching_several_records_answers_300(sf: Salesforce) -> None:
    for subject in ("one", "two"):
        sf.Task.create({"Subject": subject, "Revsync_Key__c": "task-key-dup"})
    with pytest.raises(SalesforceMoreThanOneRecord) as caught:
        sf.Task.upsert("Revsync_Key__c/task-key-dup", {"Subject": "three"})
    assert caught.value.status == 300
    assert len(caught.value.content) == 2
    assert all(u.startswith("/services/data/v59.0/sobjects/Task/00T") for u in caught.value.content)


def test_an_unknown_record_or_resource_is_not_found(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get("001Rv00000000zz")
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get_by_custom_id("Revsync_Customer_Id__c", "cust-none")
    with pytest.raises(SalesforceResourceNotFound):
        sf.restful("sobjects/Widget__c/describe")


# -- queries ---------------------------------------------------------------------------------------


def test_query_filters_orders_and_limits(sf: Salesforce, sandbox: CrmSandbox) -> None:
    for name, score in (("Zeta Query", 10), ("Alpha Query", 90), ("Mid Query", 50)):
        sf.Account.create({"Name": name, "Revsync_Health_Score__c": score})
    result = sf.query(
        "SELECT Id, Name, Revsync_Health_Score__c FROM Account "
        "WHERE Name LIKE '%Query' AND Revsync_Health_Score__c >= 20 ORDER BY Name DESC LIMIT 5"
    )
    assert account_names(result) == ["Mid Query", "Alpha Query"]
    assert result["totalSize"] == 2
    assert result["done"] is True
    top = sf.query(
        "select name from account where name in ('zeta query', 'Mid Query') "
        "order by Revsync_Health_Score__c asc limit 1"
    )
    assert account_names(top) == ["Zeta Query"]
    escaped = sf.Account.create({"Name": "O'Brien Query"})["id"]
    found = sf.query(format_soql("SELECT Id FROM Account WHERE Name = {}", "O'Brien Query"))
    assert [r["Id"] for r in found["records"]] == [escaped]
    counted = sf.query("SELECT COUNT() FROM Account WHERE Name LIKE '%Query'")
    assert (counted["totalSize"], counted["records"]) == (4, [])


def test_a_watermark_query_accepts_both_datetime_literal_forms(
    sf: Salesforce, sandbox: CrmSandbox
) -> None:
    ids = [sf.Account.create({"Name": f"Watermark {n}"})["id"] for n in range(3)]
    stamps = [sandbox.get_record("Account", i)["SystemModstamp"] for i in ids]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 3
    mark = parse_sf_datetime(stamps[1])
    zulu = mark.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    query = "SELECT Id, SystemModstamp FROM Account WHERE SystemModstamp >= {} ORDER BY SystemModstamp, Id"
    by_zulu = sf.query(query.format(zulu))
    assert [r["Id"] for r in by_zulu["records"]] == ids[1:]
    by_offset = sf.query(query.format(mark.isoformat()))
    assert [r["Id"] for r in by_offset["records"]] == ids[1:]
    # format_soql writes whole seconds with +00:00: at most an overlap, never a gap
    formatted = sf.query_all(format_soql(query, mark))
    assert [r["Id"] for r in formatted["records"]][-2:] == ids[1:]

    sandbox.update_record("Account", ids[0], {"Revsync_Adoption__c": "high"})
    after = sf.query(query.format(stamps[2].replace("+0000", "Z")))
    assert [r["Id"] for r in after["records"]] == [ids[2], ids[0]]


def test_system_modstamp_moves_on_automated_changes_alone(sandbox: CrmSandbox) -> None:
    account_id = sandbox.create_record("Account", {"Name": "Automated Co"})
    before = sandbox.get_record("Account", account_id)
    after = sandbox.update_record(
        "Account", account_id, {"Revsync_Health_Score__c": 3}, automated=True
    )
    assert after["LastModifiedDate"] == before["LastModifiedDate"]
    assert after["SystemModstamp"] > before["SystemModstamp"]


def test_query_all_follows_next_records_url_in_small_pages(
    sf: Salesforce, sandbox: CrmSandbox
) -> None:
    total = len(sandbox.records("Account"))
    assert total > PAGE_SIZE
    first = sf.query("SELECT Id FROM Account ORDER BY Id")
    assert first["done"] is False
    assert first["totalSize"] == total
    assert len(first["records"]) == PAGE_SIZE
    assert re.fullmatch(r"/services/data/v59\.0/query/01g\w{15}-10", first["nextRecordsUrl"])
    sandbox.reset_request_counts()
    everything = sf.query_all("SELECT Id, Name FROM Account ORDER BY Id")
    assert [r["Id"] for r in everything["records"]] == [r["Id"] for r in sandbox.records("Account")]
    pages = -(-total // PAGE_SIZE)
    counts = sandbox.request_counts()
    assert counts[("GET", "query")] == 1
    assert counts[("GET", "queryMore")] == pages - 1


def test_parent_fields_come_back_nested(sf: Salesforce) -> None:
    parent = sf.Account.create({"Name": "Holding Parent"})["id"]
    child = sf.Account.create({"Name": "Holding Child", "ParentId": parent})["id"]
    result = sf.query(
        "SELECT Name, Parent.Name, Parent.Parent.Name FROM Account "
        "WHERE Name LIKE 'Holding%' ORDER BY Name"
    )
    nested, top = result["records"]
    assert nested["Parent"]["Name"] == "Holding Parent"
    assert nested["Parent"]["attributes"]["type"] == "Account"
    assert nested["Parent"]["Parent"] is None
    assert top["Parent"] is None
    by_parent = sf.query("SELECT Name FROM Account WHERE Parent.Name = 'Holding Parent'")
    assert account_names(by_parent) == ["Holding Child"]
    contracts = sf.query("SELECT Account.Name FROM Contract WHERE Account.Name != null LIMIT 1")
    assert contracts["records"][0]["Account"]["Name"]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.update(parent, {"ParentId": child})
    assert caught.value.content[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


def test_deletes_show_in_query_all_only(sf: Salesforce) -> None:
    doomed = sf.Account.create({"Name": "Doomed Deleted"})["id"]
    sf.Account.delete(doomed)
    live = sf.query("SELECT Id FROM Account WHERE Name = 'Doomed Deleted'")
    assert live["records"] == []
    every = sf.query_all(
        "SELECT Id, IsDeleted FROM Account WHERE Name = 'Doomed Deleted'", include_deleted=True
    )
    assert [(r["Id"], r["IsDeleted"]) for r in every["records"]] == [(doomed, True)]
    flagged = sf.query_all("SELECT Id FROM Account WHERE IsDeleted = true", include_deleted=True)
    assert doomed in [r["Id"] for r in flagged["records"]]


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = datetime(2026, 6, 15, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_the_updated_resource_covers_whole_seconds_up_to_now(tmp_path: Path) -> None:
    clock = FakeClock()
    with CrmSandbox(tmp_path, clock=clock) as sandbox:
        sf = connect(sandbox)
        start, hour = clock.now, timedelta(hours=1)
        first = sf.Account.create({"Name": "Updated First"})["id"]
        assert sandbox.get_record("Account", first)["SystemModstamp"] == (
            "2026-06-15T12:00:00.000+0000"
        )
        clock.advance(1.5)
        window = sf.Account.updated(start, start + hour)
        assert window == {"ids": [first], "latestDateCovered": "2026-06-15T12:00:01.000+0000"}

        covered = parse_sf_datetime(window["latestDateCovered"])
        second = sf.Account.create({"Name": "Updated Second"})["id"]  # at 12:00:01.500
        assert sf.Account.updated(covered, covered + hour)["ids"] == []  # second not over
        clock.advance(1)
        later = sf.Account.updated(covered, covered + hour)
        assert later == {"ids": [second], "latestDateCovered": "2026-06-15T12:00:02.000+0000"}
        sandbox.update_record("Account", first, {"Revsync_Risk_Flags__c": "late"})
        clock.advance(1)
        moved = sf.Account.updated(parse_sf_datetime(later["latestDateCovered"]), clock.now)
        assert moved["ids"] == [first]


def test_the_deleted_resource_and_the_recycle_bin(tmp_path: Path) -> None:
    clock = FakeClock()
    with CrmSandbox(tmp_path, clock=clock) as sandbox:
        sf = connect(sandbox)
        start = clock.now
        doomed = sf.Account.create({"Name": "Doomed"})["id"]
        clock.advance(60)
        sf.Account.delete(doomed)
        clock.advance(1)
        deleted = sf.Account.deleted(start, clock.now + timedelta(hours=1))
        assert deleted == {
            "deletedRecords": [{"id": doomed, "deletedDate": "2026-06-15T12:01:00.000+0000"}],
            "earliestDateAvailable": "2026-06-15T12:00:00.000+0000",
            "latestDateCovered": "2026-06-15T12:01:01.000+0000",
        }
        assert doomed not in sf.Account.updated(start, clock.now)["ids"]
        assert sandbox.purge_deleted() == 1
        purged = sf.Account.deleted(start, clock.now)
        assert purged["deletedRecords"] == []
        assert purged["earliestDateAvailable"] == "2026-06-15T12:01:00.000+0000"
        assert sf.query_all("SELECT Id FROM Account", include_deleted=True)["totalSize"] == 0


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELEC Id FROM Account", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account LIMIT many", "MALFORMED_QUERY"),
        ("SELECT Id, Colour__c FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Account ORDER BY Nope", "INVALID_FIELD"),
        ("SELECT Id FROM Account WHERE SystemModstamp > '2026-01-01T00:00:00Z'", "INVALID_FIELD"),
        ("SELECT Id FROM Account WHERE Name = 5", "INVALID_FIELD"),
        ("SELECT Id FROM Widget__c", "INVALID_TYPE"),
    ],
)
def test_a_bad_query_is_a_malformed_request(sf: Salesforce, soql: str, code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query(soql)
    assert caught.value.status == 400
    assert caught.value.content[0]["errorCode"] == code


# -- composite -------------------------------------------------------------------------------------


def collection(records: list[dict[str, Any]], all_or_none: bool = False) -> dict[str, Any]:
    return {
        "allOrNone": all_or_none,
        "records": [{"attributes": {"type": "Account"}, **r} for r in records],
    }


def test_composite_create_and_update_report_each_record(
    sf: Salesforce, sandbox: CrmSandbox
) -> None:
    sandbox.reset_request_counts()
    created = sf.restful(
        "composite/sobjects",
        method="POST",
        json=collection([{"Name": f"Batch {n}"} for n in range(50)] + [{"Nome": "typo"}]),
    )
    assert len(created) == 51
    assert all(r["success"] for r in created[:50])
    assert created[50]["success"] is False
    [error] = created[50]["errors"]
    assert error["statusCode"] == "INVALID_FIELD"
    assert "Nome" in error["message"]
    assert sandbox.request_counts() == {("POST", "composite/sobjects"): 1}

    first, second = created[0]["id"], created[1]["id"]
    updated = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json=collection(
            [
                {"Id": first, "Revsync_Billing_Status__c": "current"},
                {"Id": second, "Revsync_Overdue__c": "maybe"},
            ]
        ),
    )
    assert updated[0] == {"id": first, "success": True, "errors": []}
    assert updated[1]["id"] == second
    assert updated[1]["errors"][0]["statusCode"] == "JSON_PARSER_ERROR"
    assert sandbox.get_record("Account", first)["Revsync_Billing_Status__c"] == "current"

    removed = sf.restful("composite/sobjects", method="DELETE", params={"ids": f"{first},{second}"})
    assert removed == [
        {"id": first, "success": True, "errors": []},
        {"id": second, "success": True, "errors": []},
    ]
    assert sandbox.get_record("Account", first) is None


def test_composite_all_or_none_rolls_everything_back(sf: Salesforce, sandbox: CrmSandbox) -> None:
    before = len(sandbox.records("Account"))
    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json=collection([{"Name": "Rolled 1"}, {}, {"Name": "Rolled 3"}], all_or_none=True),
    )
    assert [r["success"] for r in results] == [False, False, False]
    codes = [r["errors"][0]["statusCode"] for r in results]
    assert codes == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "REQUIRED_FIELD_MISSING",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    ]
    assert len(sandbox.records("Account")) == before


def test_composite_refuses_more_than_200_records(sf: Salesforce, sandbox: CrmSandbox) -> None:
    before = len(sandbox.records("Account"))
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful(
            "composite/sobjects",
            method="POST",
            json=collection([{"Name": f"Too many {n}"} for n in range(201)]),
        )
    assert caught.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert len(sandbox.records("Account")) == before


# -- limits, budget, faults --------------------------------------------------------------------------


def test_the_client_reads_sforce_limit_info(sf: Salesforce, sandbox: CrmSandbox) -> None:
    sandbox.reset_usage(used=100, daily_limit=5000)
    accounts = sf.Account
    accounts.create({"Name": "Usage Co"})
    usage = accounts.api_usage["api-usage"]
    assert (usage.used, usage.total) == (101, 5000)
    sf.query("SELECT Id FROM Account LIMIT 1")
    assert sf.api_usage["api-usage"].used == 102
    assert sf.limits()["DailyApiRequests"] == {"Max": 5000, "Remaining": 4898}
    assert sandbox.usage().used == 102  # /limits/ is free


def test_a_spent_budget_is_request_limit_exceeded(sf: Salesforce, sandbox: CrmSandbox) -> None:
    sandbox.reset_usage(used=0, daily_limit=2)
    sf.query("SELECT Id FROM Account LIMIT 1")
    sf.query("SELECT Id FROM Account LIMIT 1")
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.query("SELECT Id FROM Account LIMIT 1")
    assert caught.value.status == 403
    assert caught.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert sf.limits()["DailyApiRequests"] == {"Max": 2, "Remaining": 0}
    assert fetch_token(sandbox)  # the token endpoint is not charged
    sandbox.reset_usage()
    assert sf.query("SELECT Id FROM Account LIMIT 1")["totalSize"] == 1


@pytest.mark.parametrize(
    ("kind", "exception", "status"),
    [
        ("REQUEST_LIMIT_EXCEEDED", SalesforceRefusedRequest, 403),
        ("UNABLE_TO_LOCK_ROW", SalesforceMalformedRequest, 400),
        ("SERVER_UNAVAILABLE", SalesforceGeneralError, 503),
        ("INVALID_SESSION_ID", SalesforceExpiredSession, 401),
    ],
)
def test_a_scripted_fault_answers_the_matching_requests(
    sf: Salesforce, sandbox: CrmSandbox, kind: str, exception: type[Exception], status: int
) -> None:
    sandbox.inject(Fault(kind, times=2, method="POST", path="sobjects/Account"))
    sf.query("SELECT Id FROM Account LIMIT 1")  # not matched: a GET
    for _ in range(2):
        with pytest.raises(exception) as caught:
            sf.Account.create({"Name": f"Faulted {kind}"})
        assert caught.value.status == status  # type: ignore[attr-defined]
        assert caught.value.content[0]["errorCode"] == kind  # type: ignore[attr-defined]
    if kind == "UNABLE_TO_LOCK_ROW":
        assert caught.value.content == [  # type: ignore[attr-defined]
            {
                "message": "unable to obtain exclusive access to this record",
                "errorCode": "UNABLE_TO_LOCK_ROW",
                "fields": [],
            }
        ]
    assert sf.Account.create({"Name": f"Faulted {kind}"})["success"] is True
    found = sf.query(f"SELECT Id FROM Account WHERE Name = 'Faulted {kind}'")
    assert found["totalSize"] == 1


def test_a_stall_holds_the_request_before_or_after_the_write(
    sf: Salesforce, sandbox: CrmSandbox
) -> None:
    sandbox.inject(Fault("STALL", seconds=1.0, path="query"))
    with pytest.raises(requests.exceptions.ReadTimeout):
        sf.query("SELECT Id FROM Account LIMIT 1", timeout=0.3)

    sandbox.inject(Fault("STALL", seconds=1.0, method="POST", after_commit=True))
    with pytest.raises(requests.exceptions.ReadTimeout):
        sf.restful("sobjects/Account/", method="POST", json={"Name": "Stalled"}, timeout=0.3)
    assert [r["Name"] for r in sandbox.records("Account") if r["Name"] == "Stalled"] == ["Stalled"]


def test_faults_usage_and_counts_over_the_admin_endpoints(sandbox: CrmSandbox) -> None:
    http = https_session(sandbox)
    admin = {"Authorization": f"Bearer {sandbox.credentials.admin_token}"}
    refused = http.post(f"{sandbox.url}/_sandbox/faults", json={"faults": []})
    assert refused.status_code == 401
    scripted = http.post(
        f"{sandbox.url}/_sandbox/faults",
        json={"faults": [{"kind": "SERVER_UNAVAILABLE", "path": "query"}]},
        headers=admin,
    )
    assert scripted.json() == {"pending_faults": 1}
    bad = http.post(
        f"{sandbox.url}/_sandbox/faults", json={"faults": [{"kind": "MELTDOWN"}]}, headers=admin
    )
    assert bad.status_code == 400
    http.delete(f"{sandbox.url}/_sandbox/requests", headers=admin)
    sf = connect(sandbox)
    with pytest.raises(SalesforceGeneralError) as caught:
        sf.query("SELECT Id FROM Account")
    assert caught.value.status == 503
    counts = http.get(f"{sandbox.url}/_sandbox/requests", headers=admin).json()["counts"]
    assert {"method": "GET", "kind": "query", "count": 1} in counts
    assert {"method": "POST", "kind": "token", "count": 1} in counts

    sandbox.reset_usage(used=15000)
    with pytest.raises(SalesforceRefusedRequest):
        sf.query("SELECT Id FROM Account LIMIT 1")
    reset = http.post(f"{sandbox.url}/_sandbox/reset-usage", headers=admin)
    assert reset.json() == {"used": 0, "max": 15000}
    assert sf.query("SELECT Id FROM Account LIMIT 1")["totalSize"] == 1
    assert http.post(f"{sandbox.url}/_sandbox/revoke-tokens", headers=admin).status_code == 200
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Account LIMIT 1")


# -- persistence and seeding -------------------------------------------------------------------------


def test_records_survive_a_restart_on_the_same_folder(tmp_path: Path) -> None:
    declared = {"Account": {"Tier__c": "string", "Erp_Id__c": CustomField(external_id=True)}}
    with CrmSandbox(tmp_path, custom_fields=declared) as first:
        sf = connect(first)
        kept = sf.Account.create({"Name": "Persistent", "Tier__c": "gold"})["id"]
        gone = sf.Account.create({"Name": "Deleted Before Restart"})["id"]
        sf.Account.delete(gone)
        last_stamp = first.get_record("Account", kept)["SystemModstamp"]
    with CrmSandbox(tmp_path, custom_fields=declared) as second:
        sf = connect(second)
        assert sf.Account.get(kept)["Tier__c"] == "gold"
        assert sf.query_all("SELECT Id FROM Account", include_deleted=True)["totalSize"] == 2
        newer = sf.Account.create({"Name": "After Restart", "Erp_Id__c": "E-1"})["id"]
        assert newer not in (kept, gone)
        assert second.get_record("Account", newer)["SystemModstamp"] > last_stamp
    with CrmSandbox(tmp_path) as third, pytest.raises(SalesforceMalformedRequest):
        connect(third).query("SELECT Tier__c FROM Account")


def seeded_snapshot(sandbox: CrmSandbox) -> dict[str, list[tuple[Any, ...]]]:
    accounts = [
        (r["Id"], r["Name"], r["ParentId"], r["Revsync_Customer_Id__c"], r["BillingCountry"])
        for r in sandbox.records("Account")
    ]
    contracts = [
        (r["AccountId"], r["Status"], r["Plan__c"], r["Seats__c"], r["StartDate"], r["EndDate"])
        for r in sandbox.records("Contract")
    ]
    return {"accounts": accounts, "contracts": contracts}


def test_the_same_seed_gives_the_same_estate(tmp_path: Path) -> None:
    snapshots = []
    for folder in ("a", "b"):
        with CrmSandbox(tmp_path / folder, seed=40, seed_date=SEED_DATE) as sandbox:
            snapshots.append(seeded_snapshot(sandbox))
            sf = connect(sandbox)
            children = sf.query("SELECT Id FROM Account WHERE ParentId != null")["totalSize"]
            grandchildren = sf.query("SELECT Id FROM Account WHERE Parent.ParentId != null")
            active = sf.query("SELECT COUNT() FROM Contract WHERE Status = 'Activated'")
    assert snapshots[0] == snapshots[1]
    accounts, contracts = snapshots[0]["accounts"], snapshots[0]["contracts"]
    assert [a[3] for a in accounts] == [f"cust-{n:04d}" for n in range(1, 41)]
    assert len({a[1] for a in accounts}) == 40
    assert children == 8
    assert grandchildren["totalSize"] == 4
    top_level = {a[0] for a in accounts if a[2] is None}
    assert {c[0] for c in contracts} == top_level
    assert active["totalSize"] == len(contracts) == len(top_level)
    assert {c[2] for c in contracts} <= {"starter", "growth", "enterprise"}
    assert all(c[5] > c[4] for c in contracts)

    with CrmSandbox(tmp_path / "c", seed=40, seed_date=date(2027, 1, 1)) as other_date:
        assert seeded_snapshot(other_date)["accounts"] == accounts
    with CrmSandbox(tmp_path / "d", seed=41, seed_date=SEED_DATE) as other_seed:
        assert seeded_snapshot(other_seed)["accounts"][:40] != accounts

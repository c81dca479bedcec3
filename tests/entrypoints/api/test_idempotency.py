"""``Idempotency-Key`` on state-changing POSTs: a retried request never repeats its effect.
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from revsync.bootstrap import Container, apply_configuration
from revsync.config import Settings
from tests.conftest import issue_key, make_settings
from tests.entrypoints.api.test_billing_api import NOV_ADVANCE, customer, run, subscribe
from tests.scenarios.harness import PRO as SCENARIO_PRO
from tests.support.clock import FrozenClock, utc

CREDIT = {"amount": "100.00", "currency": "EUR", "reason": "prepaid"}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(utc(2026, 11, 1, 8))


@pytest.fixture
def settings(any_db_url: str) -> Settings:
    return make_settings(any_db_url, plans=[SCENARIO_PRO])


@pytest.fixture(autouse=True)
def acme(container: Container, api: TestClient, admin: dict[str, str]) -> None:
    apply_configuration(container, "test")
    customer(api, admin, "acme")


def grant(api: TestClient, headers: dict[str, str], key: str | None, body: Any = CREDIT) -> Any:
    extra = {"Idempotency-Key": key.encode()} if key is not None else {}
    return api.post("/v1/customers/acme/credits", json=body, headers={**headers, **extra})


def balance(api: TestClient, admin: dict[str, str]) -> Any:
    return api.get("/v1/customers/acme/credits", headers=admin).json()["balances"]


def test_a_retried_credit_is_granted_once_and_answered_the_same(
    api: TestClient, admin: dict[str, str]
) -> None:
    first = grant(api, admin, "grant-1")
    again = grant(api, admin, "grant-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert balance(api, admin) == {"EUR": "100.00"}
    # without a key, a second POST is a second grant (the key is what makes it a retry)
    assert grant(api, admin, None).status_code == 201
    assert balance(api, admin) == {"EUR": "200.00"}


def test_the_same_key_with_another_request_is_a_mismatch(
    api: TestClient, admin: dict[str, str]
) -> None:
    assert grant(api, admin, "grant-2").status_code == 201
    other = grant(api, admin, "grant-2", {**CREDIT, "amount": "50.00"})
    assert other.status_code == 422
    error = other.json()["error"]
    assert (error["code"], error["field"]) == ("idempotency.mismatch", "Idempotency-Key")
    elsewhere = api.post(
        "/v1/billing-runs", json={}, headers={**admin, "Idempotency-Key": "grant-2"}
    )
    assert elsewhere.json()["error"]["code"] == "idempotency.mismatch"
    assert balance(api, admin) == {"EUR": "100.00"}


def test_a_refused_request_releases_its_key_for_the_corrected_retry(
    api: TestClient, admin: dict[str, str]
) -> None:
    refused = grant(api, admin, "grant-3", {**CREDIT, "amount": "1e400"})
    assert (refused.status_code, refused.json()["error"]["field"]) == (422, "amount")
    corrected = grant(api, admin, "grant-3", {**CREDIT, "amount": "100.00"})
    assert corrected.status_code == 201, corrected.text
    assert balance(api, admin) == {"EUR": "100.00"}


def test_keys_belong_to_their_api_key_and_expire(
    api: TestClient, admin: dict[str, str], container: Container, clock: FrozenClock
) -> None:
    other_admin = issue_key(container, "admin")
    assert grant(api, admin, "shared").status_code == 201
    assert "idempotent-replayed" not in grant(api, other_admin, "shared").headers
    assert balance(api, admin) == {"EUR": "200.00"}
    clock.advance(timedelta(hours=23))
    assert grant(api, admin, "shared").headers["idempotent-replayed"] == "true"
    clock.advance(timedelta(hours=1, seconds=1))  # kept 24 h, then forgotten
    assert "idempotent-replayed" not in grant(api, admin, "shared").headers
    assert balance(api, admin) == {"EUR": "300.00"}


def test_amendments_void_and_runs_are_answered_once(
    api: TestClient, admin: dict[str, str], clock: FrozenClock
) -> None:
    assert subscribe(api, admin, "s1", "acme", seats=2).status_code == 201
    amend = {"change": "seat_change", "effective": "2026-11-16", "seats": 5}
    headers = {**admin, "Idempotency-Key": "amend-1"}
    first = api.post("/v1/subscriptions/s1/amendments", json=amend, headers=headers)
    again = api.post("/v1/subscriptions/s1/amendments", json=amend, headers=headers)
    assert (first.status_code, again.content) == (201, first.content)
    terms = api.get("/v1/subscriptions/s1", headers=admin).json()["terms"]
    assert [(t["version"], t["seats"]) for t in terms] == [(1, 2), (2, 5)]

    clock.set(utc(2026, 11, 4, 0))
    run(api, admin, "2026-11-04")
    void = {**admin, "Idempotency-Key": "void-1"}
    voided = api.post(f"/v1/invoices/{NOV_ADVANCE}/void", json={"reason": "x"}, headers=void)
    retried = api.post(f"/v1/invoices/{NOV_ADVANCE}/void", json={"reason": "x"}, headers=void)
    assert (voided.status_code, retried.status_code) == (201, 201)
    assert retried.content == voided.content
    # the same void without a key is refused: the invoice is void already
    assert api.post(f"/v1/invoices/{NOV_ADVANCE}/void", headers=admin).status_code == 422


def test_while_the_first_request_runs_a_retry_is_told_to_wait(
    api: TestClient, admin: dict[str, str], container: Container
) -> None:
    key_id = _key_id(container, admin)
    body = b'{"amount":"100.00","currency":"EUR","reason":"prepaid"}'
    decision = container.idempotency.claim(
        key_id, "busy", _fingerprint("/v1/customers/acme/credits", body)
    )
    assert decision.verdict.value == "run"
    busy = api.post(
        "/v1/customers/acme/credits",
        content=body,
        headers={**admin, "Idempotency-Key": "busy", "Content-Type": "application/json"},
    )
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "idempotency.in_progress"
    assert busy.headers["retry-after"] == "1"
    assert balance(api, admin) == {}


def test_an_effect_whose_answer_was_lost_is_never_repeated(
    api: TestClient, admin: dict[str, str], container: Container
) -> None:
    key_id = _key_id(container, admin)
    body = b'{"amount":"100.00","currency":"EUR","reason":"prepaid"}'
    container.idempotency.claim(key_id, "lost", _fingerprint("/v1/customers/acme/credits", body))
    with container.unit_of_work() as uow:  # the effect committed, then the process died
        uow.idempotency.mark_committed(key_id, "lost")
        uow.commit()
    retry = api.post(
        "/v1/customers/acme/credits",
        content=body,
        headers={**admin, "Idempotency-Key": "lost", "Content-Type": "application/json"},
    )
    assert (retry.status_code, retry.json()["error"]["code"]) == (409, "idempotency.answer_lost")
    assert balance(api, admin) == {}


def test_concurrent_identical_requests_under_one_key_take_effect_once(
    api: TestClient, admin: dict[str, str]
) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: grant(api, admin, "race"), range(8)))
    statuses = sorted(
        (a.status_code, a.headers.get("idempotent-replayed", "first")) for a in answers
    )
    assert statuses.count((201, "first")) == 1, statuses
    assert all(s in ((201, "first"), (201, "true"), (409, "first")) for s in statuses), statuses
    assert balance(api, admin) == {"EUR": "100.00"}


def test_an_issued_api_key_is_replayed_without_its_secret(
    api: TestClient, admin: dict[str, str]
) -> None:
    body = {"name": "etl", "roles": ["ingest"]}
    headers = {**admin, "Idempotency-Key": "key-1"}
    first = api.post("/v1/api-keys", json=body, headers=headers)
    again = api.post("/v1/api-keys", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["key"].startswith("rsk_")
    assert again.json() == {**first.json(), "key": None}
    names = [k["name"] for k in api.get("/v1/api-keys", headers=admin).json()]
    assert names.count("etl") == 1


def test_a_malformed_key_is_refused(api: TestClient, admin: dict[str, str]) -> None:
    for bad in ("", "x" * 256, "caf\u00e9"):
        response = grant(api, admin, bad)
        assert response.status_code == 400, bad
        assert response.json()["error"]["field"] == "Idempotency-Key"
    assert balance(api, admin) == {}


def _key_id(container: Container, headers: dict[str, str]) -> str:
    token = headers["Authorization"].removeprefix("Bearer ")
    found = container.api_keys.authenticate(token)
    assert found is not None
    return found.id


def _fingerprint(path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in ("POST", path, ""):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


def test_the_key_commits_with_the_effect_so_a_lost_answer_is_never_run_again(
    api: TestClient, admin: dict[str, str], container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies after the grant committed, before its answer is stored (storing the
    answer fails here): the key was marked in the grant's own transaction."""

    def dies(*_: object) -> None:
        raise RuntimeError("the process stops here")

    monkeypatch.setattr(container.idempotency, "complete", dies)
    crashed = grant(api, admin, "crash-1")
    assert crashed.status_code == 500
    monkeypatch.undo()
    stored = _stored(container, _key_id(container, admin), "crash-1")
    assert stored is not None and stored.state.value == "committed"
    retry = grant(api, admin, "crash-1")
    assert (retry.status_code, retry.json()["error"]["code"]) == (409, "idempotency.answer_lost")
    assert balance(api, admin) == {"EUR": "100.00"}


def _stored(container: Container, scope: str, key: str) -> Any:
    with container.unit_of_work(write=False) as uow:
        return uow.idempotency.get(scope, key)

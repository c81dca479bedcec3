"""Every endpoint but /healthz needs a key with the right scope; 401 / 403 with a JSON body."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from revsync.adapters.db.migrate import head_revision
from revsync.bootstrap import Container
from revsync.entrypoints.api.access import PUBLIC
from revsync.entrypoints.api.app import create_app
from tests.conftest import issue_key
from tests.support.clock import FrozenClock
from tests.support.events import encode, event


def test_healthz_needs_no_key(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok", "database": "sqlite"}


def test_readyz_says_whether_the_database_answers_at_the_expected_schema(
    api: TestClient, container: Container
) -> None:
    expected = head_revision()
    assert api.get("/readyz").json() == {
        "status": "ready",
        "database": "sqlite",
        "schema_revision": expected,
        "expected_revision": expected,
        "jobs": [],
    }
    now = container.clock.now()
    with container.unit_of_work() as uow:  # a worker runs the CRM sync
        uow.jobs.claim("crm_sync", "w1", now, now + timedelta(seconds=60), None)
        uow.commit()
    assert api.get("/readyz").json()["jobs"] == [
        {
            "name": "crm_sync",
            "held": True,
            "lease_until": (now + timedelta(seconds=60)).isoformat().replace("+00:00", "Z"),
            "last_started_at": now.isoformat().replace("+00:00", "Z"),
        }
    ]
    with container.engine.begin() as conn:  # a database one migration behind
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    behind = api.get("/readyz")
    assert (behind.status_code, behind.json()["schema_revision"]) == (503, "0001")
    container.engine.dispose()
    Path(container.engine.url.database or "").unlink()  # the database is gone
    for suffix in ("-wal", "-shm"):
        Path(f"{container.engine.url.database}{suffix}").unlink(missing_ok=True)
    Path(container.engine.url.database or "").mkdir()  # and cannot be opened as a file
    gone = api.get("/readyz")
    assert (gone.status_code, gone.json()["database"]) == (503, "unreachable")


def test_every_other_route_requires_a_key(api: TestClient, container: Container) -> None:
    paths = create_app(container).openapi()["paths"]
    operations = [  # the support webhook is signed by the tool instead (test_support_webhook)
        (method.upper(), path)
        for path, ops in paths.items()
        for method in ops
        if (method.upper(), path) not in PUBLIC
    ]
    assert len(operations) >= 10
    for method, template in operations:
        path = template.replace("{customer_id}", "acme").replace("{key_id}", "key_x")
        response = api.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Basic dXNlcjpwYXNz", "Bearer rsk_nope_nope", "Bearer not-a-key"],
    ids=["empty", "no token", "basic", "unknown", "malformed"],
)
def test_missing_or_wrong_keys_are_401(api: TestClient, header: str) -> None:
    response = api.get("/v1/customers", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    body = response.json()["error"]
    assert body["code"] == "unauthorized"
    assert body["request_id"]


def test_a_revoked_key_stops_working(
    api: TestClient, container: Container, admin: dict[str, str]
) -> None:
    reader = issue_key(container, "read")
    assert api.get("/v1/customers", headers=reader).status_code == 200
    key_id = next(
        k["id"] for k in api.get("/v1/api-keys", headers=admin).json() if k["roles"] == ["read"]
    )
    revoked = api.delete(f"/v1/api-keys/{key_id}", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    response = api.get("/v1/customers", headers=reader)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "invalid or revoked API key"


def test_a_key_without_the_ingest_role_cannot_ingest(
    api: TestClient, reader: dict[str, str]
) -> None:
    response = api.post("/v1/events", content=encode([event("e1")]), headers=reader)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "this API key lacks the 'ingest' role"


def test_an_ingest_key_cannot_read_or_administer(api: TestClient, ingest: dict[str, str]) -> None:
    assert api.post("/v1/events", content=encode([event("e1")]), headers=ingest).status_code == 200
    assert api.get("/v1/customers", headers=ingest).status_code == 403
    assert (
        api.put(
            "/v1/customers/x", json={"name": "X", "currency": "EUR"}, headers=ingest
        ).status_code
        == 403
    )
    assert api.get("/v1/api-keys", headers=ingest).status_code == 403


def test_keys_are_stored_hashed_and_shown_once(
    api: TestClient, container: Container, admin: dict[str, str]
) -> None:
    created = api.post(
        "/v1/api-keys", json={"name": "ci", "roles": ["read", "ingest"]}, headers=admin
    )
    assert created.status_code == 201
    secret = created.json()["key"]
    assert secret.startswith("rsk_")
    listed = api.get("/v1/api-keys", headers=admin).text
    assert secret not in listed
    with container.engine.connect() as conn:
        dump = "\n".join(str(row) for row in conn.exec_driver_sql("SELECT * FROM api_keys"))
        audit = "\n".join(str(row) for row in conn.exec_driver_sql("SELECT * FROM audit_log"))
    assert secret not in dump
    assert secret.split("_", 2)[2] not in dump
    assert secret.split("_", 2)[2] not in audit
    assert (
        api.get("/v1/customers", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    )


def test_unknown_role_is_refused(api: TestClient, admin: dict[str, str]) -> None:
    response = api.post("/v1/api-keys", json={"name": "x", "roles": ["root"]}, headers=admin)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "roles"


def test_scopes_is_still_read_as_the_former_name_of_roles(
    api: TestClient, admin: dict[str, str]
) -> None:
    created = api.post("/v1/api-keys", json={"name": "old", "scopes": ["read"]}, headers=admin)
    assert created.status_code == 201
    assert created.json()["roles"] == ["read"]


def test_the_openapi_document_needs_a_key_and_the_docs_page_holds_none_of_it(
    api: TestClient, reader: dict[str, str]
) -> None:
    assert api.get("/v1/openapi.json").status_code == 401
    document = api.get("/v1/openapi.json", headers=reader)
    assert document.status_code == 200
    assert "/v1/events" in document.json()["paths"]
    page = api.get("/docs")  # public: it asks for a key, then loads the document with it
    assert page.status_code == 200
    assert "/v1/events" not in page.text and "Authorization" in page.text
    for open_page in ("/redoc", "/openapi.json"):
        assert api.get(open_page).status_code == 404


def test_a_key_checked_lately_is_remembered_without_the_database(
    container: Container, clock: FrozenClock
) -> None:
    """The API asks the cache first on the event loop and goes to the database in a thread."""
    secret = container.api_keys.create("probe", ["read"], "test").secret
    assert container.api_keys.remembered(secret) is None  # never checked in this process
    checked = container.api_keys.authenticate(secret)
    assert checked is not None
    assert container.api_keys.remembered(secret) == checked
    clock.advance(timedelta(seconds=container.settings.auth.cache_seconds + 1))
    assert container.api_keys.remembered(secret) is None
    assert container.api_keys.remembered("not-a-key") is None

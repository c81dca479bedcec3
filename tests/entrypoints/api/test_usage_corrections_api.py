"""POST /v1/usage/corrections: void events by key, add compensating ones, with a reason;
idempotent under a key; a key that matches nothing is 422 and nothing is voided. SQLite and
PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from revsync.config import Settings
from tests.conftest import make_settings
from tests.entrypoints.api.test_events import calls, post, put_customer
from tests.support.events import encode, event


@pytest.fixture
def settings(any_db_url: str) -> Settings:
    return make_settings(any_db_url)


def correct(api: TestClient, admin: dict[str, str], body: Any, key: str | None = None) -> Any:
    headers = {**admin, **({"Idempotency-Key": key} if key else {})}
    return api.post("/v1/usage/corrections", json=body, headers=headers)


def test_void_and_add_in_one_correction(api: TestClient, admin: dict[str, str]) -> None:
    put_customer(api, admin, "acme", ["tenant-a"])
    post(api, admin, encode([event(f"e{n}") for n in range(3)]))
    assert calls(api, admin, "acme")[0]["value"] == "3"
    body = {
        "reason": "e1 and e2 were sent by a test job",
        "void": [
            {"source": "app://test", "id": "e1"},
            {"source": "app://test", "id": "e2"},
        ],
        "add": [event("fix-1")],
    }
    first = correct(api, admin, body, key="fix-1")
    assert first.status_code == 201, first.text
    answer = first.json()
    assert answer["id"].startswith("corr_")
    assert answer["voided"] == [
        {"source": "app://test", "id": "e1"},
        {"source": "app://test", "id": "e2"},
    ]
    assert answer["already_voided"] == []
    assert answer["added"] == {
        "accepted": 1,
        "duplicates": 0,
        "unmapped": 0,
        "late": 0,
        "rejected": [],
    }
    assert calls(api, admin, "acme")[0]["value"] == "2"  # e0 and fix-1
    retried = correct(api, admin, body, key="fix-1")
    assert retried.content == first.content
    assert retried.headers["idempotent-replayed"] == "true"
    # the voided events sent again are not counted anew
    assert post(api, admin, encode([event("e1"), event("e2")])).json()["duplicates"] == 2
    assert calls(api, admin, "acme")[0]["value"] == "2"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"reason": "x", "void": [{"source": "app://test", "id": "nope"}]},
            "void",
            "void: no stored event with source 'app://test' and id 'nope'",
        ),
        ({"reason": "x", "void": [{"id": "e0"}]}, "void.0", None),
        ({"reason": " ", "void": [{"source": "app://test", "id": "e0"}]}, "reason", None),
        ({"reason": "x"}, "void", None),
        ({"reason": "x", "void": [], "add": "e0"}, "add", None),
        ({"reason": "x", "remove": []}, "remove", None),
    ],
)
def test_a_bad_correction_is_422_and_voids_nothing(
    api: TestClient, admin: dict[str, str], body: dict[str, Any], field: str, message: str | None
) -> None:
    put_customer(api, admin, "acme", ["tenant-a"])
    post(api, admin, encode([event("e0")]))
    response = correct(api, admin, body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    if message is not None:
        assert error["message"] == message
    assert calls(api, admin, "acme")[0]["value"] == "1"


def test_corrections_need_the_admin_scope(api: TestClient, reader: dict[str, str]) -> None:
    response = correct(api, reader, {"reason": "x", "void": []})
    assert response.status_code == 403

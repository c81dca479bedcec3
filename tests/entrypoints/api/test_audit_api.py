"""``GET /v1/audit`` gives an outsider all it takes to check the chain with the key: the
checker below follows docs/governance.md ("The audit chain") and nothing of revsync's code."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import rfc8785
from fastapi.testclient import TestClient

from revsync.bootstrap import Container, build
from revsync.config import Settings
from revsync.entrypoints.api.app import create_app
from tests.conftest import issue_key
from tests.support.clock import FrozenClock, utc

KEY = "an-outsiders-copy-of-the-audit-key-0123456789"


@pytest.fixture
def keyed_api(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("REVSYNC_AUDIT_KEY", KEY)
    container: Container = build(settings, clock=FrozenClock(utc(2026, 11, 15, 12, 0, 0)))
    with TestClient(create_app(container)) as client:
        client.headers.update(issue_key(container, "admin"))
        yield client
    container.close()


def outside_check(entries: list[dict[str, Any]], key: bytes) -> int:
    """The chain's links recomputed from the API's answer, as governance.md says."""
    prev = "0" * 64
    for e in entries:
        assert e["prev_hash"] == prev, e["seq"]
        at = datetime.fromisoformat(e["at"].replace("Z", "+00:00")).astimezone(UTC)
        record = {
            "action": e["action"],
            "actor": e["actor"],
            "after": e["after"],
            "at": at.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z",
            "before": e["before"],
            "object_id": e["object_id"],
            "object_type": e["object_type"],
        }
        message = prev.encode() + b"\n" + rfc8785.dumps(record)
        assert e["alg"] == "hmac-sha256-jcs"
        assert e["hash"] == hmac.new(key, message, hashlib.sha256).hexdigest(), e["seq"]
        prev = e["hash"]
    return len(entries)


def test_the_audit_pages_carry_the_algorithm_and_check_from_outside(
    keyed_api: TestClient,
) -> None:
    for name in ("Acme", "Acme SA", "Acme SAS"):
        body = {"name": name, "currency": "EUR", "timezone": "Europe/Paris"}
        assert keyed_api.put("/v1/customers/acme", json=body).status_code in (200, 201)
    entries = keyed_api.get("/v1/audit", params={"limit": "1000"}).json()
    assert [e["action"] for e in entries][-3:] == [
        "customer.created",
        "customer.updated",
        "customer.updated",
    ]
    assert outside_check(entries, KEY.encode()) == len(entries)
    with pytest.raises(AssertionError):
        outside_check(entries, b"not-the-key-" * 4)

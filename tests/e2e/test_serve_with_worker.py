"""The embedded default as a user runs it: ``revsync serve --with-worker`` delivers what billing
announces. A customer, a plan and a subscription are made through the API, a billing run
finalizes the invoice, and the invoice arrives at the destination once, through a 503 and a
lost answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from revsync.sandbox.faults import Fault, FaultServer
from tests.support.server import Server

PLAN = {
    "name": "Basic",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "platform",
            "model": "flat",
            "description": "Platform fee",
            "timing": "in_advance",
            "amount": "20.00",
        }
    ],
}


@pytest.fixture
def target() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.fixture
def server(sqlite_url: str, tmp_path: Path, target: FaultServer) -> Iterator[Server]:
    config = tmp_path / "revsync.yaml"
    settings = {
        "database": {"url": sqlite_url},
        "logging": {"level": "WARNING"},
        "billing": {"grace_period_hours": 0},
        "worker": {"lease_seconds": 2, "poll_seconds": 0.05},
        "outbox": {
            "allow_private_hosts": ["127.0.0.1"],
            "destinations": [
                {
                    "name": "finance",
                    "url": f"{target.url}/documents",
                    "lookup_url": f"{target.url}/documents/by-key/{{key}}",
                    "events": ["invoice.finalized"],
                    "timeout_seconds": 0.5,
                    "retry": {"base_seconds": 0.05, "max_delay_seconds": 0.2},
                }
            ],
        },
    }
    config.write_text(yaml.safe_dump(settings))
    running = Server(config, tmp_path, serve_args=("--with-worker",))
    try:
        running.cli("db", "upgrade")
        output = running.cli("apikey", "create", "--name", "e2e", "--role", "admin")
        running.key = {"Authorization": f"Bearer {output.strip().splitlines()[-1]}"}
        running.start()
        yield running
    finally:
        running.stop_all()


def test_a_finalized_invoice_reaches_the_destination_from_serve_with_worker(
    server: Server, target: FaultServer
) -> None:
    target.script(Fault("503", retry_after=0), Fault("commit_then_drop"))
    start = (datetime.now(UTC) - timedelta(days=1)).date()
    with server.client() as client:
        customer = {"name": "Acme", "currency": "EUR", "timezone": "UTC", "external_refs": {}}
        assert client.put("/v1/customers/acme", json=customer).status_code == 201
        assert client.put("/v1/plans/basic", json=PLAN).status_code == 201
        subscription = {"customer_id": "acme", "plan": "basic", "start": start.isoformat()}
        assert client.put("/v1/subscriptions/s1", json=subscription).status_code == 201
        run = client.post("/v1/billing-runs", json={"as_of": start.isoformat()})
        assert run.status_code == 201, run.text
        [invoice_id] = run.json()["finalized"]
        delivered = 'revsync_outbox_messages{destination="finance",status="delivered"} 1.0'
        deadline = time.monotonic() + 20
        while delivered not in client.get("/metrics").text:
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.05)
        invoice = client.get(f"/v1/invoices/{invoice_id}").json()
        metrics = client.get("/metrics").text
    # a 503, a lost answer, then the lookup found what the lost attempt had committed
    for outcome, count in (("unavailable", 2), ("found", 1), ("delivered", 0)):
        line = (
            f'revsync_outbox_attempts_total{{destination="finance",outcome="{outcome}"}} {count}.0'
        )
        assert line in metrics
    [document] = target.documents()
    assert target.commits() == {document["key"]: 1}
    assert document["body"]["type"] == "invoice.finalized"
    data = document["body"]["data"]
    assert data.pop("customer") == {
        "id": "acme",
        "name": "Acme",
        "country": None,
        "tax_exempt": False,
        "erp_ref": None,
    }
    assert data.pop("parts") == []  # what a consolidated invoice bills: not one
    assert data == invoice
    assert invoice["totals"]["total"] == "20.00"
    assert target.stats()["fault_503"] == 1 and target.stats()["lookups"] == 1

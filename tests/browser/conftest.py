"""The console in a real browser: Debian's Chromium driven by Playwright, against ``revsync serve
--with-worker`` on a dataset of a dozen customers with a month of usage, invoices and one refused
delivery. Fails on CI, skips elsewhere, when Chromium is not installed."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Browser, Page, sync_playwright

from revsync.sandbox.faults import Fault, FaultServer
from tests.conftest import TEST_METERS
from tests.scenarios.harness import PRO
from tests.support.databases import in_ci
from tests.support.delivery import destination
from tests.support.events import encode, event
from tests.support.server import Server

#: Debian's chromium (Playwright's own download needs the internet)
CHROMIUM = os.environ.get("REVSYNC_CHROMIUM", "/usr/bin/chromium")
#: a plan that bills every call, beside the harness's Pro (whose first 1,000 calls are free)
METERED: dict[str, Any] = {
    "code": "metered",
    "name": "Metered",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "platform",
            "model": "flat",
            "description": "Platform fee",
            "timing": "in_advance",
            "amount": "49.00",
        },
        {
            "key": "calls",
            "model": "per_unit",
            "description": "API calls",
            "meter": "api_calls",
            "amount": "0.05",
        },
    ],
    "features": [
        {"key": "sso", "kind": "boolean"},
        {"key": "storage", "kind": "quota", "meter": "storage_gb", "limit": "50"},
    ],
}
#: customers in the dataset, and usage events per customer
CUSTOMERS, EVENTS = 12, 40


@dataclass
class Dataset:
    server: Server
    target: FaultServer
    ops_key: str
    read_key: str
    failed_invoice: str


def _secret(server: Server, name: str, role: str) -> str:
    output = server.cli("apikey", "create", "--name", name, "--role", role)
    return output.strip().splitlines()[-1]


def _build(server: Server, target: FaultServer) -> str:
    """Customers, subscriptions since last month, a month of API calls and two days of storage
    snapshots, a billing run; the first
    invoice the destination is sent is refused (422), so one delivery case opens. Returns the
    id of the refused invoice."""
    today = datetime.now(UTC).date()
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    target.script(Fault("422"))
    with server.client() as client:
        ingest = {"Content-Type": "application/cloudevents-batch+json"}
        for n in range(CUSTOMERS):
            cid = f"cust-{n:02d}"
            body = {
                "name": f"Customer {n:02d}",
                "currency": "EUR",
                "external_refs": {"product": [f"t-{cid}"]},
            }
            assert client.put(f"/v1/customers/{cid}", json=body).status_code == 201
            plan = "metered" if n % 2 else "pro"
            sub = {"customer_id": cid, "plan": plan, "start": last_month.isoformat()}
            assert client.put(f"/v1/subscriptions/s-{cid}", json=sub).status_code == 201
            batch = [
                event(
                    f"{cid}-{k}",
                    subject=f"t-{cid}",
                    type="api.request",
                    time=datetime.combine(last_month, datetime.min.time(), UTC)
                    + timedelta(days=(k * k) % 27, hours=n % 12),
                    data={"endpoint": "/v1/search" if k % 3 else "/v1/export"},
                )
                for k in range(EVENTS + n * 5)
            ]
            # storage snapshots no plan bills: unbilled usage on the overview
            batch += [
                event(
                    f"{cid}-storage-{k}",
                    subject=f"t-{cid}",
                    type="storage.snapshot",
                    time=datetime.now(UTC) - timedelta(hours=6 * k + n),
                    data={"gb": 10 + n + k},
                )
                for k in range(8)
            ]
            answer = client.post("/v1/events", content=encode(batch), headers=ingest)
            assert answer.json()["accepted"] == len(batch), answer.text
        run = client.post("/v1/billing-runs", json={"as_of": today.isoformat()})
        assert run.status_code == 201, run.text
        deadline = time.monotonic() + 60
        while True:
            found = client.get("/v1/cases", params={"kind": "delivery"}).json()["items"]
            if found:
                break
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.1)
        reconciled = client.post("/v1/reconciliations", json={"checks": ["usage"]})
        assert reconciled.status_code == 201, reconciled.text
    for _ in range(3):  # KPI measurements for the charts
        server.cli("kpis", "--measure")
    object_id: str = found[0]["object"]["id"]
    return object_id


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dataset]:
    directory = tmp_path_factory.mktemp("console")
    with FaultServer() as target:
        settings: dict[str, Any] = {
            "database": {"url": f"sqlite:///{directory / 'revsync.sqlite'}"},
            "logging": {"level": "WARNING"},
            "meters": TEST_METERS,
            "plans": [PRO, METERED],
            "billing": {"grace_period_hours": 0},
            "worker": {"lease_seconds": 2, "poll_seconds": 0.05},
            "outbox": {
                "allow_private_hosts": ["127.0.0.1"],
                "destinations": [destination(target)],
            },
        }
        config = directory / "revsync.yaml"
        config.write_text(yaml.safe_dump(settings))
        server = Server(config, directory, serve_args=("--with-worker",))
        try:
            server.cli("db", "upgrade")
            server.key = {"Authorization": f"Bearer {_secret(server, 'builder', 'admin')}"}
            server.start()
            failed = _build(server, target)
            yield Dataset(
                server,
                target,
                _secret(server, "operator", "ops"),
                _secret(server, "analyst", "read"),
                failed,
            )
        finally:
            server.stop_all()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Chromium for one module: Playwright's synchronous API runs an event loop in this
    thread while it is open, which tests of other modules (asyncio.run) must not meet."""
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()

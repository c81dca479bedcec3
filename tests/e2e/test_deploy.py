"""docs/deploy.md, followed: PostgreSQL, ``revsync db upgrade``, two API processes
(``revsync serve --workers 2``), two ``revsync worker`` processes and the local ERP. Customers,
subscriptions and usage go in through the API; the workers bill on the schedule (one of them),
post the invoices; one worker is killed (SIGKILL) while they post; the ERP, read through its
own API, holds every invoice exactly once with revsync's totals."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml

from revsync.adapters.db.engine import create_db_engine
from revsync.adapters.db.tables import erp_postings, invoices, job_runs, outbox_messages
from tests.conftest import TEST_METERS
from tests.scenarios.harness import PRO
from tests.support.erp import with_rpc
from tests.support.events import encode, event
from tests.support.server import Server, clean_env
from tests.support.tryton import ADMIN_PASSWORD, TrytonServer

CUSTOMERS = 24
#: a day in the past (billing refuses the future), inside the provisioned fiscal years
START = date.today() - timedelta(days=20)
BATCH = {"Content-Type": "application/cloudevents-batch+json"}


@pytest.fixture
def deployment(pg_url: str, tmp_path: Path, erp_server: TrytonServer) -> Iterator[Server]:
    config = tmp_path / "revsync.yaml"
    settings: dict[str, Any] = {
        "database": {"url": pg_url},
        "logging": {"level": "INFO"},
        "meters": TEST_METERS,
        "plans": [PRO],
        "tax": {"rates": {"FR": {"standard": "20"}}},
        "billing": {"grace_period_hours": 0, "schedule": "* * * * *"},
        "erp": {
            "url": erp_server.url,
            "database": erp_server.database,
            "password_env": "REVSYNC_TEST_ERP_PASSWORD",
            "timeout_seconds": 10,  # a batch of postings takes seconds on a busy machine
            "retry": {"base_seconds": 0.1, "max_delay_seconds": 0.5},
            "circuit": {"failure_threshold": 3, "open_seconds": 0.5},
        },
        "outbox": {"allow_private_hosts": ["127.0.0.1"]},
        "worker": {"lease_seconds": 20, "poll_seconds": 0.05, "job_lease_seconds": 5},
    }
    config.write_text(yaml.safe_dump(settings))
    running = Server(config, tmp_path, workers=2)
    try:
        running.cli("db", "upgrade")
        output = running.cli("apikey", "create", "--name", "deploy", "--role", "admin")
        running.key = {"Authorization": f"Bearer {output.strip().splitlines()[-1]}"}
        running.start()
        yield running
    finally:
        running.stop_all()


def start_worker(deployment: Server, n: int) -> subprocess.Popen[bytes]:
    log = (deployment.directory / f"worker-{n}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "revsync", "worker", "--config", str(deployment.config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=deployment.directory,
        env={**clean_env(), "REVSYNC_TEST_ERP_PASSWORD": ADMIN_PASSWORD},
    )


def counts(engine: sa.Engine) -> tuple[int, int]:
    """(invoices posted to the ERP, outbox messages not yet done)."""
    m = outbox_messages.c
    with engine.connect() as conn:
        posted = conn.execute(sa.select(sa.func.count()).select_from(erp_postings)).scalar_one()
        waiting = conn.execute(
            sa.select(sa.func.count()).where(m.status.in_(("pending", "in_flight", "failed")))
        ).scalar_one()
    return int(posted), int(waiting)


def test_the_deployment_guide_posts_every_invoice_once_when_a_worker_dies(
    deployment: Server, erp_server: TrytonServer, pg_url: str
) -> None:
    with deployment.client() as client:
        assert client.get("/readyz").json()["status"] == "ready"
        for n in range(CUSTOMERS):
            cid = f"c{n:02d}"
            customer = {
                "name": cid.upper(),
                "currency": "EUR",
                "timezone": "UTC",
                "country": "FR",
                "external_refs": {"product": [f"t-{cid}"]},
            }
            assert client.put(f"/v1/customers/{cid}", json=customer).status_code == 201
            subscription = {"customer_id": cid, "plan": "pro", "start": START.isoformat()}
            assert client.put(f"/v1/subscriptions/s-{cid}", json=subscription).status_code == 201
        usage = [
            event(f"e-{n}-{k}", subject=f"t-c{n:02d}", time=datetime.now(UTC) - timedelta(days=1))
            for n in range(CUSTOMERS)
            for k in range(5)
        ]
        accepted = client.post("/v1/events", content=encode(usage), headers=BATCH)
        assert accepted.status_code == 200, accepted.text

    engine = create_db_engine(pg_url)
    workers = [start_worker(deployment, n) for n in range(2)]
    try:
        deadline = time.monotonic() + 120
        while counts(engine)[0] < 4:  # the schedule billed; postings are under way
            assert time.monotonic() < deadline, _logs(deployment.directory)
            time.sleep(0.02)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(10)
        while True:
            posted, waiting = counts(engine)
            if posted == CUSTOMERS and waiting == 0:
                break
            assert time.monotonic() < deadline, (posted, waiting, _logs(deployment.directory))
            time.sleep(0.1)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(30)

    with engine.connect() as conn:
        billed = (
            conn.execute(sa.select(job_runs.c.outcome).where(job_runs.c.name == "billing"))
            .scalars()
            .all()
        )
        ours = conn.execute(
            sa.select(invoices.c.number, invoices.c.total).where(invoices.c.number.is_not(None))
        ).all()
    engine.dispose()
    assert "ok" in billed and len(billed) <= 2  # the first turn, and a next minute's at most
    assert len(ours) == CUSTOMERS
    documents = with_rpc(
        erp_server,
        lambda c: c.model(
            "account.invoice",
            "search_read",
            [("type", "=", "out")],
            0,
            None,
            None,
            ["reference", "description", "state", "total_amount"],
        ),
    )
    per_key = Counter(d["reference"] for d in documents)
    assert max(per_key.values()) == 1, "a document was posted twice"
    assert sorted((d["description"], d["total_amount"]) for d in documents) == sorted(
        (number, total) for number, total in ours
    )
    assert {d["state"] for d in documents} == {"posted"}
    _metrics_add_up_across_processes(deployment)


def _metrics_add_up_across_processes(deployment: Server) -> None:
    """Each scrape, whichever of the two server processes answers it, counts the requests
    both answered; the workers' KPI job ran on the schedule it has by default."""
    output = deployment.cli("apikey", "create", "--name", "prom", "--role", "metrics")
    key = {"Authorization": f"Bearer {output.strip().splitlines()[-1]}"}
    for _ in range(20):  # a connection each, so that both processes answer some
        assert httpx.get(f"{deployment.url}/healthz", trust_env=False).status_code == 200
    line = 'revsync_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"}'
    for _ in range(4):
        scraped = httpx.get(f"{deployment.url}/metrics", headers=key, trust_env=False).text
        (count,) = [float(s.split()[-1]) for s in scraped.splitlines() if s.startswith(line)]
        assert count >= 20, scraped  # the readiness polls of the start count too
        assert 'revsync_job_last_success_timestamp_seconds{task="kpis"}' in scraped


def _logs(directory: Path) -> str:
    return "\n".join(
        f"--- {p.name}\n{p.read_text()[-2500:]}" for p in sorted(directory.glob("*.log"))
    )

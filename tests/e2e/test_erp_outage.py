"""An ERP outage in the middle of a billing run's postings, longer than the whole attempt
budget of a fast retry policy: trytond is killed (SIGKILL) while the relay posts, invoices
queue (retries, then the circuit holds them; none of it spends an attempt), trytond comes
back, and every invoice ends up in the ERP exactly once with revsync's totals, with no case
and no one acting — checked by reading the ERP, not revsync's records."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from revsync.adapters.db.tables import erp_postings
from revsync.application.customers import PutCustomer
from revsync.application.subscriptions import CreateSubscription
from revsync.bootstrap import Container, apply_configuration, build
from revsync.domain.identity import System
from revsync.domain.invoicing import InvoiceStatus
from revsync.ports.billing import InvoiceFilter
from revsync.ports.delivery import CaseFilter
from tests.conftest import make_settings
from tests.scenarios.harness import PRO
from tests.support.delivery import settled
from tests.support.erp import with_rpc
from tests.support.tryton import ADMIN_PASSWORD, TrytonServer

CUSTOMERS = 25
#: a day in the past (billing refuses the future), inside the provisioned fiscal years
START = date.today() - timedelta(days=20)


@pytest.fixture
def container(
    sqlite_url: str, erp_server: TrytonServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Container]:
    monkeypatch.setenv("REVSYNC_TEST_ERP_PASSWORD", ADMIN_PASSWORD)
    settings = make_settings(
        sqlite_url,
        plans=[PRO],
        tax={"rates": {"FR": {"standard": "20"}}},
        billing={"grace_period_hours": 0},
        erp={
            "url": erp_server.url,
            "database": erp_server.database,
            "password_env": "REVSYNC_TEST_ERP_PASSWORD",
            "timeout_seconds": 12,  # a batch of postings takes seconds on a busy machine
            # spent in about a second if an outage counted against it
            "retry": {"base_seconds": 0.1, "max_delay_seconds": 0.5, "max_attempts": 3},
            "circuit": {"failure_threshold": 3, "open_seconds": 0.5},
        },
        outbox={"allow_private_hosts": ["127.0.0.1"]},
        worker={"lease_seconds": 30, "poll_seconds": 0.02},
    )
    wired = build(settings)  # the real clock: retries wait for real
    apply_configuration(wired, "test")
    yield wired
    wired.close()


def posted_count(container: Container) -> int:
    with container.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(erp_postings)).scalar_one())


def test_every_invoice_is_in_the_erp_once_after_an_outage_mid_run(
    container: Container, erp_server: TrytonServer
) -> None:
    for n in range(CUSTOMERS):
        cid = f"c{n:02d}"
        container.customers.put(
            PutCustomer(
                cid, cid.upper(), "EUR", "UTC", None, {System.PRODUCT: [f"t-{cid}"]}, "t", "FR"
            )
        )
        container.subscriptions.create(CreateSubscription(f"s-{cid}", cid, "pro", START, "t"))
    report = container.billing.run(START, "test")
    assert len(report.finalized) == CUSTOMERS
    outage: dict[str, Any] = {}

    async def main() -> None:
        relay = container.relay("outage-test")
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(stop))
        try:
            while posted_count(container) < 8:
                await asyncio.sleep(0.01)
            await asyncio.to_thread(erp_server.kill)  # mid-run: some postings may be in flight
            outage["at"] = posted_count(container)
            await asyncio.sleep(5)  # invoices queue: retries, then the circuit holds them
            outage["during"] = posted_count(container)
            await asyncio.to_thread(erp_server.start)
            deadline = time.monotonic() + 60
            while not await asyncio.to_thread(settled, container):
                assert time.monotonic() < deadline, "the outbox did not drain after the restart"
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await task
            await relay.aclose()

    asyncio.run(main())
    assert outage["during"] == outage["at"]  # nothing was posted while the ERP was down
    assert outage["at"] < CUSTOMERS

    # read the ERP back
    documents = with_rpc(
        erp_server,
        lambda c: c.model(
            "account.invoice",
            "search_read",
            [("type", "=", "out")],
            0,
            None,
            None,
            ["reference", "description", "state", "total_amount", "tax_amount"],
        ),
    )
    ours = container.billing.invoices(InvoiceFilter(), after=None, limit=500)
    per_key = Counter(d["reference"] for d in documents)
    assert max(per_key.values()) == 1, "a document was posted twice"
    assert sorted(
        (d["description"], d["total_amount"], d["tax_amount"]) for d in documents
    ) == sorted((i.number, i.totals.total, i.totals.tax) for i in ours)
    assert {d["state"] for d in documents} == {"posted"}
    assert {i.status for i in ours} == {InvoiceStatus.POSTED}
    assert container.cases.find(CaseFilter(), after=None, limit=10) == []
    with container.unit_of_work(write=False) as uow:
        outcomes = {o: n for (_, o), n in uow.outbox.attempt_counts().items()}
    assert outcomes.get("unavailable", 0) > 3  # more attempts found it away than the budget

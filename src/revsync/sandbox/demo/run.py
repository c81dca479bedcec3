"""``revsync demo``: a quarter of a B2B SaaS company through revsync, against a local Tryton ERP
and the CRM sandbox, with faults along the way, and this month's usage so far reaching usage
thresholds — then revsync checks itself through the ERP's and the CRM's own APIs.

Everything lives in one folder: revsync's SQLite database and config, the ERP's database, the
CRM sandbox's data, the report. ``revsync serve --config DIR/revsync.yaml`` explores it after.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from revsync.adapters.connectors.erp.provision import provision
from revsync.adapters.connectors.erp.rpc import TrytonRpc
from revsync.adapters.db.migrate import upgrade
from revsync.adapters.db.tables import delivery_counters, outbox_messages, usage_events
from revsync.application.crm import PushReport
from revsync.application.customers import PutCustomer
from revsync.application.ingestion import IngestContext, IngestReport
from revsync.application.support import BILLING_MARK
from revsync.application.thresholds import WATERMARK
from revsync.bootstrap import (
    ERP_DESTINATION,
    Container,
    apply_configuration,
    build,
    erp_blueprint,
)
from revsync.config import load_settings
from revsync.domain.identity import System
from revsync.domain.invoicing import InvoiceStatus
from revsync.entrypoints.workers.relay import worker_jobs
from revsync.observability.logging import configure_logging
from revsync.ports.erp import PostingRecord
from revsync.ports.support import TicketMark
from revsync.sandbox.crm import CrmSandbox, Fault
from revsync.sandbox.crm.ids import USER_PREFIX, make_id
from revsync.sandbox.demo.checks import CheckReport, check_crm, check_erp
from revsync.sandbox.demo.deal import check_deals, close_deal
from revsync.sandbox.demo.desk import Desk, check_desk
from revsync.sandbox.demo.report import DemoReport, build_report, render
from revsync.sandbox.demo.scenario import (
    DUNNING_DAYS,
    INCLUDED,
    MONTH_SO_FAR,
    Quarter,
    daily_usage,
    date_contracts,
    late_event,
    malformed,
    month_so_far,
    profiles,
    tenant_of,
    write_config,
)
from revsync.sandbox.support import SupportSandbox
from revsync.sandbox.tryton import LocalTryton, TrytonError, cached_database
from revsync.schemas.cloudevents_v1 import MEDIA_JSON, decode_items, split_body

ACTOR = "cli:demo"
ERP_PASSWORD = "revsync-demo-admin"  # noqa: S105 - the demo's own local ERP
#: what the demo owns in its folder (removed when it starts again)
OWNED = (
    "revsync.yaml",
    "revsync.db",
    "revsync.db-wal",
    "revsync.db-shm",
    "erp",
    "crm",
    "support",
)
_BATCH = 5_000
_ENCODE = msgspec.json.Encoder(decimal_format="number").encode


@dataclass(slots=True)
class Tally:
    """What the demo counted along the way."""

    ingest: IngestReport = field(default_factory=IngestReport)
    amendments: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    push: PushReport | None = None
    paid: int = 0
    #: the support desk: organizations, tickets, contexts written, the service credit
    desk: dict[str, Any] = field(default_factory=dict)
    #: the customer the demo walks down the collections ladder and back, step by step
    ladder: list[str] = field(default_factory=list)
    #: the renewals assessed at a horizon (the CRM gets a task or an opportunity)
    renewals: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # seconds spent in each phase
    _since: float = field(default_factory=time.monotonic)

    def lap(self, phase: str) -> None:
        """Record the time since the previous lap under ``phase``."""
        now = time.monotonic()
        self.phases[phase] = round(self.phases.get(phase, 0) + now - self._since, 2)
        self._since = now

    def add(self, report: IngestReport) -> None:
        self.ingest.accepted += report.accepted
        self.ingest.duplicates += report.duplicates
        self.ingest.unmapped += report.unmapped
        self.ingest.late += report.late
        self.ingest.rejected += report.rejected


#: the ports the demo's ERP, CRM and support tool listen on when free (else any free port)
ERP_PORT, CRM_PORT, SUPPORT_PORT = 8000, 8443, 8444


class DemoClock:
    """The system's time — or, for a step the demo plays on a day past (the collections
    ladder's, one dunning level at a time), that day's."""

    def __init__(self) -> None:
        self._at: datetime | None = None

    def now(self) -> datetime:
        return self._at or datetime.now(UTC)

    @contextmanager
    def on(self, day: date) -> Iterator[None]:
        self._at = datetime.combine(day, clock_time(9), UTC)
        try:
            yield
        finally:
            self._at = None


#: how long trytond may take to answer after a start (a busy machine is slow at it)
ERP_STARTUP_SECONDS = 300.0


def run_demo(
    directory: Path,
    *,
    console: Console,
    json_path: Path | None = None,
    accounts: int = 50,
    erp_down_seconds: float = 2.0,
    events: dict[str, Any] | None = None,
) -> DemoReport:
    """Play the quarter in ``directory``; returns the report (its checks say whether revsync's
    numbers match the ERP's and the CRM's), also written to ``report.json`` there.
    ``erp_down_seconds``: how long the ERP stays down in the outage it plays; ``events``: the
    configuration's ``events`` section (revsync's event stream on NATS), None for none."""
    started = time.monotonic()
    directory = directory.resolve()
    _clear(directory)
    configure_logging("WARNING", "console")
    today = datetime.now(UTC).date()
    quarter = Quarter.before(today)
    erp_folder, crm_folder = directory / "erp", directory / "crm"
    erp_folder.mkdir(parents=True)
    built: dict[str, Any] = {}
    builder = threading.Thread(
        target=_build_erp, args=(erp_folder, built), name="demo-erp-build", daemon=True
    )
    builder.start()
    tally = Tally()
    with (
        CrmSandbox(
            crm_folder, seed=accounts, seed_date=today, port=_free_or_any(CRM_PORT)
        ) as sandbox,
        SupportSandbox(directory / "support", port=_free_or_any(SUPPORT_PORT)) as tool,
        _progress(console) as progress,
    ):
        tryton = LocalTryton(
            erp_folder,
            erp_folder / "revsync.sqlite",
            port=_free_or_any(ERP_PORT),
            startup_timeout=ERP_STARTUP_SECONDS,
        )
        try:
            config = directory / "revsync.yaml"
            write_config(
                config,
                erp_url=tryton.url,
                erp_database=tryton.database,
                crm_url=sandbox.url,
                crm_cert=sandbox.cert_path,
                support_url=tool.url,
                support_cert=tool.cert_path,
                support_email=tool.credentials.email,
                quarter=quarter,
                today=today,
                events=events,
            )
            _secrets(directory, sandbox, tool)
            clock = DemoClock()
            container = build(load_settings(config), clock=clock)
            desk = Desk(tool)
            try:
                upgrade(container.engine)
                apply_configuration(container, ACTOR)
                key = container.api_keys.create("demo admin", ["admin"], ACTOR)
                (directory / "admin.key").write_text(key.secret + "\n")
                os.chmod(directory / "admin.key", 0o600)
                _play(
                    container,
                    sandbox,
                    tryton,
                    builder,
                    built,
                    quarter,
                    today,
                    tally,
                    progress,
                    erp_down_seconds,
                )
                _support_desk(container, desk, tally, progress)
                _collect(container, desk, clock, today, tally, progress)
                _signals(container, sandbox, tally, progress)
                checks = _check(container, sandbox, desk, progress)
                report = build_report(container, quarter, tally, checks, time.monotonic() - started)
            finally:
                desk.close()
                container.close()
        finally:
            tryton.stop()
    render(report, console, directory)
    text = json.dumps(report.as_json(), indent=2, default=str) + "\n"
    (directory / "report.json").write_text(text)
    if json_path is not None:
        json_path.write_text(text)
    return report


def _free_or_any(port: int) -> int:
    """``port`` if nothing listens on it, else 0 (any free port)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return 0
    return port


# --- the quarter ---------------------------------------------------------------------


def _play(
    container: Container,
    sandbox: CrmSandbox,
    tryton: LocalTryton,
    builder: threading.Thread,
    built: dict[str, Any],
    quarter: Quarter,
    today: date,
    tally: Tally,
    progress: Progress,
    erp_down_seconds: float,
) -> None:
    step = progress.add_task("CRM: accounts and contracts in", total=None)
    contracts = sandbox.records("Contract")
    for contract_id, changes in date_contracts(contracts, quarter, today).items():
        sandbox.update_record("Contract", contract_id, changes)
    for number, account in enumerate(sorted(a["Id"] for a in sandbox.records("Account"))):
        manager = make_id(USER_PREFIX, 2 + number % 3)  # three success managers in turn
        sandbox.update_record("Account", account, {"Success_Manager__c": manager})
    close_deal(sandbox, quarter.start)  # a new customer's deal, won on the quarter's first day
    pulled = _pull(container)
    progress.update(step, total=1, completed=1, description=_crm_line(pulled))
    tally.lap("crm pull")

    customers = _crm_customers(container)
    subscribed = _subscribed(container)
    plans = {customer: plan for customer, (plan, _) in subscribed.items()}
    late_tenant, late_customer = _late_mapped(customers, plans)
    punctual = next(c.id for c in customers if c.id in plans and c.id != late_customer)
    for customer in customers:
        if customer.id != late_customer:
            _map_tenant(container, customer.id)
    _ingest_quarter(container, customers, subscribed, quarter, tally, progress)
    tally.lap("usage")

    step = progress.add_task("ERP: building the local Tryton database", total=None)
    builder.join()
    if "error" in built:
        raise built["error"]
    tally.lap("erp build (rest)")
    tryton.start()
    asyncio.run(_provision(container, quarter))
    tally.lap("erp provision")
    progress.update(step, total=1, completed=1, description="ERP: Tryton provisioned")
    tally.faults.append(f"ERP period {quarter.start:%Y-%m} closed before posting")

    runs = [quarter.start, *quarter.months[1:], quarter.end]
    billing = progress.add_task("Billing runs and postings", total=len(runs))
    for number, as_of in enumerate(runs):
        if number == 2:
            _map_tenant(container, late_customer)  # mapped late: its usage attaches now
            tally.faults.append(f"tenant {late_tenant} unmapped until {as_of:%Y-%m-%d}")
            _ingest(container, [late_event(tenant_of(punctual), quarter)], tally)
            tally.faults.append("a late event for an invoiced month")
        if as_of == quarter.end:
            _amend_contracts(container, sandbox, quarter, tally)
        container.billing.run(as_of, ACTOR)
        tally.lap("billing")
        during = None
        if number == 2:
            during = _outage(container, tryton, erp_down_seconds)
            tally.faults.append(f"ERP down for {erp_down_seconds:g} s as postings began")
        _deliver(container, progress, during)
        tally.lap("deliveries")
        progress.advance(billing)

    watched = _watched(container, late_customer, datetime.now(UTC).date())
    _month_so_far(container, watched, progress, tally)
    tally.lap("thresholds")


def _signals(container: Container, sandbox: CrmSandbox, tally: Tally, progress: Progress) -> None:
    step = progress.add_task("CRM: signals out", total=None)
    _pull(container)
    tally.push = container.crm_signals().run()
    tally.renewals = [
        f"{a.renewal_date.isoformat()} {a.customer_id} ({a.days} days): {a.verdict.value}"
        for a in container.renewals().run().announced
    ]
    sandbox.inject(Fault("REQUEST_LIMIT_EXCEEDED", path="composite"))
    tally.faults.append("CRM request limit exceeded once")
    _deliver(container, progress)
    progress.update(step, total=1, completed=1)
    tally.lap("crm signals")


def _crm_line(pulled: Any) -> str:
    deals = f", {len(pulled.deals.taken)} deal won" if pulled.deals else ""
    return (
        f"CRM: {len(pulled.customers_created)} customers, "
        f"{len(pulled.subscriptions_created)} subscriptions{deals}"
    )


def _pull(container: Container) -> Any:
    return asyncio.run(container.pull_crm())


def _crm_customers(container: Container) -> list[Any]:
    with container.unit_of_work(write=False) as uow:
        return list(uow.customers.with_system(System.CRM))


def _subscribed(container: Container) -> dict[str, tuple[str, date]]:
    """customer → (plan, first billed day) of its subscription (children: their parent's)."""
    found: dict[str, tuple[str, date]] = {}
    with container.unit_of_work(write=False) as uow:
        crm_customers = uow.customers.with_system(System.CRM)
        for customer in crm_customers:
            for subscription in uow.subscriptions.of_customer(customer.id):
                found[customer.id] = (subscription.current.plan_code, subscription.start)
        for customer in crm_customers:
            if customer.id not in found and customer.parent_id in found:
                found[customer.id] = found[customer.parent_id]
    return found


def _late_mapped(customers: Sequence[Any], plans: dict[str, str]) -> tuple[str, str]:
    """The customer whose tenant revsync only learns of after the first month is billed."""
    chosen = next(c for c in customers if plans.get(c.id) == "growth")
    return tenant_of(chosen.id), chosen.id


def _map_tenant(container: Container, customer_id: str) -> None:
    customer = container.customers.get(customer_id)
    refs: dict[System, list[str]] = {}
    for ref in customer.refs:
        refs.setdefault(ref.system, []).append(ref.value)
    refs[System.PRODUCT] = [tenant_of(customer_id)]
    container.customers.put(
        PutCustomer(
            customer.id,
            customer.name,
            customer.currency,
            customer.timezone,
            customer.parent_id,
            refs,
            ACTOR,
            country=customer.country,
            tax_exempt=customer.tax_exempt,
        )
    )


def _ingest_quarter(
    container: Container,
    customers: Sequence[Any],
    subscribed: dict[str, tuple[str, date]],
    quarter: Quarter,
    tally: Tally,
    progress: Progress,
) -> None:
    usage = profiles([(c.id, subscribed[c.id][0]) for c in customers if c.id in subscribed])
    tenants = {
        tenant_of(c.id): (subscribed[c.id][0], usage[c.id], subscribed[c.id][1])
        for c in customers
        if c.id in subscribed
    }
    events = list(daily_usage(tenants, quarter))
    events += events[1000:1600]  # an emitter that retried a batch: duplicates
    events += malformed(12, quarter)
    task = progress.add_task("Usage: a quarter of events", total=len(events))
    for start in range(0, len(events), _BATCH):
        chunk = events[start : start + _BATCH]
        _ingest(container, chunk, tally)
        progress.advance(task, len(chunk))
    tally.faults.append("600 duplicate events and 12 malformed ones")
    progress.update(
        task,
        description=f"Usage: {tally.ingest.accepted:,} events, {tally.ingest.duplicates} "
        f"duplicates, {len(tally.ingest.rejected)} rejected",
    )


def _ingest(container: Container, events: Sequence[dict[str, Any]], tally: Tally) -> None:
    body = b"[" + b",".join(_ENCODE(e) for e in events) + b"]"
    report = container.ingestion.ingest(
        decode_items(split_body(body, MEDIA_JSON)), IngestContext("api", ACTOR)
    )
    tally.add(report)


def _watched(container: Container, late_customer: str, today: date) -> list[str]:
    """The customers whose month so far the demo plays: on the growth plan (of their own
    subscription), not the one mapped late; first those whose open usage period is this
    calendar month (in others, the quarter's last days count too)."""
    found: list[tuple[bool, str]] = []
    with container.unit_of_work(write=False) as uow:
        for customer in uow.customers.with_system(System.CRM):
            growth = [
                s
                for s in uow.subscriptions.of_customer(customer.id)
                if s.current.plan_code == "growth"
            ]
            if growth and customer.id != late_customer:
                period = growth[0].usage_period_on(today)
                found.append((period.start != today.replace(day=1), customer.id))
    return [customer for _, customer in sorted(found)[: len(MONTH_SO_FAR)]]


def _month_so_far(
    container: Container, customers: Sequence[str], progress: Progress, tally: Tally
) -> None:
    """This month's usage so far arrives in two batches; after each, the threshold watcher
    (run beside the relay, as in the worker) looks at it and what it announces is delivered.
    The growth plan's thresholds fire once each: the first customer reaches 80% of its
    included API calls with the first batch and stays below 100% with the second, the
    second customer reaches both with the second (earlier, if its open period holds usage
    of the quarter's last days)."""
    step = progress.add_task("This month so far: usage thresholds", total=2)
    for batch in range(2):
        moment = datetime.now(UTC)  # in the open usage period: the one the watcher looks at
        events = [
            event
            for customer, shares in zip(customers, MONTH_SO_FAR, strict=False)
            for event in month_so_far(
                tenant_of(customer), int(INCLUDED["growth"] * shares[batch]), moment, batch
            )
        ]
        _ingest(container, events, tally)
        _deliver(container, progress)
        progress.advance(step)
    reached = len(container.thresholds.crossings(None, None, 1000))
    progress.update(step, description=f"This month so far: {reached} usage thresholds reached")


def _amend_contracts(
    container: Container, sandbox: CrmSandbox, quarter: Quarter, tally: Tally
) -> None:
    """Sales changes two contracts in the CRM in the last month: a seat change and an upgrade."""
    middle = quarter.months[2] + timedelta(days=14)
    contracts = sorted(sandbox.records("Contract"), key=lambda c: c["Id"])
    growth = next(c for c in contracts if c.get("Plan__c") == "growth")
    starter = next(c for c in contracts if c.get("Plan__c") == "starter")
    seats = int(growth.get("Seats__c") or 10) + 15
    sandbox.update_record(
        "Contract",
        growth["Id"],
        {"Seats__c": seats, "Amendment_Date__c": middle.isoformat()},
    )
    sandbox.update_record(
        "Contract",
        starter["Id"],
        {"Plan__c": "growth", "Seats__c": 12, "Amendment_Date__c": middle.isoformat()},
    )
    pulled = _pull(container)
    tally.amendments += pulled.amendments


async def _provision(container: Container, quarter: Quarter) -> None:
    """Provision the ERP, and close the quarter's first month as finance would have."""
    client = container.erp()
    try:
        await provision(client.rpc, erp_blueprint(container.settings, quarter.end))
        await _close_period(client.rpc, quarter.start)
    finally:
        await client.aclose()


async def _close_period(rpc: TrytonRpc, first_day: date) -> None:
    found = await rpc.model(
        "account.period",
        "search",
        [("start_date", "=", first_day), ("type", "=", "standard")],
        0,
        None,
        None,
    )
    if found:
        await rpc.model("account.period", "close", found)


def _outage(
    container: Container, tryton: LocalTryton, seconds: float
) -> Callable[[], Coroutine[Any, Any, None]]:
    """The ERP goes down as the run's postings begin, stays down ``seconds`` once revsync has
    found it away, and comes back (``start`` returns once it answers): no bet on how long
    anything takes."""

    async def down_and_back() -> None:
        away = await asyncio.to_thread(_found_away, container)
        await asyncio.to_thread(tryton.kill)
        while await asyncio.to_thread(_found_away, container) == away:
            if not await asyncio.to_thread(_unfinished, container, ERP_DESTINATION):
                break  # nothing was left to post: the outage hit nothing
            await asyncio.sleep(0.05)
        await asyncio.sleep(seconds)
        await asyncio.to_thread(tryton.start)

    return down_and_back


def _found_away(container: Container) -> int:
    """Attempts that found the ERP unavailable so far."""
    c = delivery_counters.c
    query = sa.select(c.total).where(c.destination == ERP_DESTINATION, c.outcome == "unavailable")
    with container.engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


#: how long nothing may happen in the outbox before the demo says it is stuck
STALL_SECONDS = 600.0


def _deliver(
    container: Container,
    progress: Progress,
    during: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """Run a relay, and the worker's threshold watcher beside it, until the watcher has looked
    at all the usage, the outbox has nothing left to deliver (failures become cases) and
    ``during`` (a fault played meanwhile) is over. It waits as long as deliveries move; only
    ``STALL_SECONDS`` without any attempt ending stops it, naming what waits."""
    task = progress.add_task("  delivering", total=None)

    async def main() -> None:
        relay = container.relay("demo")
        runner = container.job_runner("demo")
        stop = asyncio.Event()
        running = asyncio.create_task(relay.run(stop))
        watch = [j for j in worker_jobs(container, stop) if j.name == "thresholds"]
        watching = [asyncio.create_task(runner.keep(job, stop)) for job in watch]
        side = asyncio.create_task(during()) if during else None
        moved, last = time.monotonic(), (-1, -1, -1)
        try:
            while not running.done():
                # first: a look commits what it announces with its watermark
                unseen = await asyncio.to_thread(_unwatched, container) if watch else 0
                waiting = await asyncio.to_thread(_unfinished, container)
                progress.update(task, description=f"  delivering: {waiting} waiting")
                if not waiting and not unseen and (side is None or side.done()):
                    break
                now = (unseen, waiting, await asyncio.to_thread(_attempts_ended, container))
                if now != last:
                    moved, last = time.monotonic(), now
                elif time.monotonic() - moved > STALL_SECONDS and (side is None or side.done()):
                    raise RuntimeError(
                        f"deliveries stuck: {waiting} messages waiting, {unseen} usage events "
                        f"the threshold watcher has not looked at, no attempt ended in "
                        f"{STALL_SECONDS:g} s"
                    )
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            if side is not None:
                await side
            await running
            for watcher in watching:
                await watcher
            await relay.aclose()

    asyncio.run(main())
    progress.remove_task(task)


def _unwatched(container: Container) -> int:
    """Usage events ingested after the threshold watcher's last look."""
    with container.unit_of_work(write=False) as uow:
        seen = uow.thresholds.watermark(WATERMARK)
    query = sa.select(sa.func.count()).where(usage_events.c.seq > seen)
    with container.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _attempts_ended(container: Container) -> int:
    query = sa.select(sa.func.coalesce(sa.func.sum(delivery_counters.c.total), 0))
    with container.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _unfinished(container: Container, destination: str | None = None) -> int:
    m = outbox_messages.c
    query = sa.select(sa.func.count()).where(m.status.in_(("pending", "in_flight")))
    if destination is not None:
        query = query.where(m.destination == destination)
    with container.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _collect(
    container: Container,
    desk: Desk,
    clock: DemoClock,
    today: date,
    tally: Tally,
    progress: Progress,
) -> None:
    """Customers pay most invoices older than their payment term; the payment sync reads
    payments and dunning levels back. One late payer is walked down the collections ladder
    a dunning level at a time — the sync played on the day each level is reached: a task for
    its account's owner, then one for its success manager and its ticket flagged, then its data
    export suspended — and back up when it pays every overdue invoice."""
    step = progress.add_task("Collections: payments and the dunning ladder", total=None)
    late = asyncio.run(_pay_most(container, today))
    slid, due = _oldest_unpaid(container, late)
    name = container.customers.get(slid).name
    organization = tally.desk["organizations"].get(slid)
    if organization is not None and slid not in tally.desk["ticket_of"]:
        subject = "Why did we get a payment reminder?"
        tally.desk["ticket_of"][slid] = desk.ticket(subject, organization, subject, "high")
    for days in DUNNING_DAYS:
        day = min(due + timedelta(days=days + 1), today)  # the day the level is reached
        _rewind_billing_mark(container, day)
        with clock.on(day):
            report = asyncio.run(container.sync_erp())
            tally.paid += len(report.paid)
            asyncio.run(container.sync_support())
            _deliver(container, progress)
            export = _export(container, slid)
        level = report.collections.moved.get(slid, (0, 0))[1]
        tally.ladder.append(
            f"{day.isoformat()}: {name} ({slid}) at dunning level {level} — "
            f"{_STEP_TEXT.get(level, 'no move')}; data_export {export}"
        )
    report = asyncio.run(container.sync_erp())  # today: every late payer on its rung
    tally.paid += len(report.paid)
    asyncio.run(_pay_overdue(container, slid, today))
    report = asyncio.run(container.sync_erp())
    tally.paid += len(report.paid)
    asyncio.run(container.sync_support())
    _deliver(container, progress)
    moved = report.collections.moved.get(slid)
    tally.ladder.append(
        f"{today.isoformat()}: {name} ({slid}) paid — back at level {moved[1] if moved else '?'}:"
        f" tasks completed, ticket flag off, data_export {_export(container, slid)}"
    )
    progress.update(step, total=1, completed=1)
    tally.lap("payments and collections")


def _rewind_billing_mark(container: Container, day: date) -> None:
    """The demo plays the ladder's days after today's work: the support sync's mark of billing
    changes goes back to each of them with the clock, as if those days came in their order
    (the ladder's moves on that day then reach every open ticket of the customers moved)."""
    with container.unit_of_work() as uow:
        mark = TicketMark(datetime.combine(day, clock_time(0), UTC), 0)
        uow.support.set_mark(BILLING_MARK, mark, container.clock.now())
        uow.commit()


#: every how many customers has an open ticket (the others' organizations have none yet)
TICKET_EVERY = 5
_QUESTIONS = (
    ("SSO login loops back to the sign-in page", "high"),
    ("Export to CSV times out on large projects", "normal"),
    ("How are API calls counted on the staging environment?", "low"),
    ("Assistant answers are slow since Monday", "urgent"),
)


def _support_desk(container: Container, desk: Desk, tally: Tally, progress: Progress) -> None:
    """The support team's desk: an organization per customer (its external id the customer's
    id, so revsync maps it), an open ticket for every fifth; revsync writes each ticket's
    context. Then an agent asks a service credit on one ticket (10% of the customer's last
    invoice for an outage), finance approves it, and the credit note goes to the ERP and its
    number to the ticket."""
    step = progress.add_task("Support: tickets enriched, a service credit", total=None)
    asyncio.run(_provision_fields(container))
    organizations: dict[str, int] = {}
    tickets: dict[str, int] = {}
    for number, customer in enumerate(_crm_customers(container)):
        organizations[customer.id] = desk.organization(customer.name, customer.id)
        if number % TICKET_EVERY == 0:
            subject, priority = _QUESTIONS[number // TICKET_EVERY % len(_QUESTIONS)]
            body = f"{subject} — reported by {customer.name}"
            tickets[customer.id] = desk.ticket(subject, organizations[customer.id], body, priority)
    tally.desk = {"organizations": organizations, "ticket_of": tickets}
    first = asyncio.run(container.sync_support())
    _deliver(container, progress)
    tally.desk["contexts"] = len(first.contexts_queued)
    credited, invoice = _credit_candidate(container, [*tickets, *organizations])
    if credited not in tickets:
        subject = "Our API was down for 4 hours: we ask for a service credit"
        tickets[credited] = desk.ticket(subject, organizations[credited], subject, "urgent")
    settings = container.settings.support
    titles = settings.fields
    desk.update(  # an agent asks for a service credit: the tag and the credit fields
        tickets[credited],
        {
            titles["credit_percent"]: "10",
            titles["credit_invoice"]: invoice,
            titles["credit_reason"]: "API outage of 4 hours (SLA: 10% of the month)",
        },
        add_tags=[settings.credit_tag],
    )
    asyncio.run(container.sync_support())
    with container.unit_of_work(write=False) as uow:
        credit = uow.support.credits([tickets[credited]])[tickets[credited]]
    assert credit.case_id is not None, credit.explanation
    container.cases.approve(credit.case_id, "finance:demo", "SLA credit agreed with the customer")
    _deliver(container, progress)  # the credit note to the ERP, the notes to the ticket
    asyncio.run(container.sync_support())  # the ERP number known: the public comment
    _deliver(container, progress)
    with container.unit_of_work(write=False) as uow:
        issued = uow.support.credits([tickets[credited]])[tickets[credited]]
        note = uow.invoices.get(issued.credit_note_id or "")
        posting = uow.postings.get(issued.credit_note_id or "")
    tally.desk["credit"] = (
        f"ticket {tickets[credited]} of {credited}: 10% of {invoice} approved by finance → "
        f"credit note {note.number if note else '?'} ({issued.total} {issued.currency} before "
        f"tax), ERP number {posting.number if posting else '?'}, told on the ticket"
    )
    progress.update(step, total=1, completed=1)
    tally.lap("support")


async def _provision_fields(container: Container) -> None:
    client = container.support()
    try:
        await client.provision()
    finally:
        await client.aclose()


def _credit_candidate(container: Container, customers: Sequence[str]) -> tuple[str, str]:
    """The first of ``customers`` with an invoice whose tenth is within the credit limit, and
    that invoice's number (its latest such)."""
    limit = container.settings.support.credit_limit * 10
    with container.unit_of_work(write=False) as uow:
        for customer_id in customers:
            subscriptions = uow.subscriptions.of_customer(customer_id)
            found = [
                i
                for s in uow.invoices.of_subscriptions([x.id for x in subscriptions]).values()
                for i in s
                if i.number
                and not i.credits_invoice
                and i.status is not InvoiceStatus.VOID
                and 0 < i.totals.subtotal <= limit
            ]
            if found:
                latest = max(found, key=lambda i: (i.issue_date, i.number or ""))
                return customer_id, str(latest.number)
    raise RuntimeError("no customer has an invoice to credit")


_STEP_TEXT = {
    1: "a CRM task for the account's owner",
    2: "a task for the success manager, its open tickets tagged revsync_collections",
    3: "its data export suspended",
}


def _export(container: Container, customer_id: str) -> str:
    """The customer's data export, as an entitlement check answers it now."""
    decision = container.entitlements.snapshot(customer_id).decide("data_export", Decimal(0))
    return "allowed" if decision.allowed else decision.reason.value


def _oldest_unpaid(container: Container, late: Sequence[PostingRecord]) -> tuple[str, date]:
    """The customer of the late payers' oldest invoice, and that invoice's due date (the
    ERP's payment term after the invoice date)."""
    oldest = min(late, key=lambda p: (p.invoice_date, p.invoice_id))
    with container.unit_of_work(write=False) as uow:
        invoice = uow.invoices.get(oldest.invoice_id)
    assert invoice is not None
    term = container.settings.erp.payment_term_days
    return invoice.customer_id, oldest.invoice_date + timedelta(days=term)


async def _pay_most(container: Container, today: date) -> list[PostingRecord]:
    """Customers pay; the late payers' invoices are returned."""
    client = container.erp()
    try:
        return await _customers_pay(container, client.rpc, today)
    finally:
        await client.aclose()


async def _pay_overdue(container: Container, customer_id: str, today: date) -> None:
    """The customer pays every overdue invoice, today."""
    with container.unit_of_work(write=False) as uow:
        overdue = uow.postings.overdue_by_customer().get(customer_id, [])
    client = container.erp()
    try:
        method = await payment_method(client.rpc)
        for posting in overdue:
            amount = posting.amount_to_pay or Decimal(0)
            if amount > 0:
                await pay(client.rpc, int(posting.remote_id), amount, today, method)
    finally:
        await client.aclose()


#: how many invoices the demo's customers pay (each payment is a Tryton wizard run)
PAYMENTS = 60


async def _customers_pay(container: Container, rpc: TrytonRpc, today: date) -> list[PostingRecord]:
    """The oldest invoices are paid, but for one in seven (late payers, returned)."""
    with container.unit_of_work(write=False) as uow:
        unpaid = uow.postings.unpaid()
    due = [p for p in unpaid if p.invoice_date <= today - timedelta(days=30)]
    due.sort(key=lambda p: (p.invoice_date, p.invoice_id))
    paying = [p for number, p in enumerate(due[:PAYMENTS]) if number % 7 != 3]
    late = [p for number, p in enumerate(due[:PAYMENTS]) if number % 7 == 3]
    if not paying:
        return late
    ids = [int(p.remote_id) for p in paying]
    read = await rpc.model("account.invoice", "read", ids, ["amount_to_pay", "state"])
    states = {state["id"]: state for state in read}  # Tryton reads in its own order
    method = await payment_method(rpc)
    for posting, invoice_id in zip(paying, ids, strict=True):
        state = states[invoice_id]
        amount = Decimal(state["amount_to_pay"] or 0)
        if state["state"] == "posted" and amount > 0:
            on = posting.invoice_date + timedelta(28)
            await pay(rpc, invoice_id, amount, on, method)
    return late


async def payment_method(rpc: TrytonRpc) -> int:
    """The first payment method of the ERP (the demo's cashier uses it for every payment)."""
    found: list[int] = await rpc.model("account.invoice.payment.method", "search", [], 0, 1, None)
    return found[0]


async def pay(
    rpc: TrytonRpc, invoice_id: int, amount: Decimal, on: date, method: int | None = None
) -> None:
    """Pay an invoice through Tryton's pay wizard, as a cashier would (with ``method``, or the
    first payment method)."""
    context = await rpc.context()
    context |= {"active_model": "account.invoice", "active_id": invoice_id}
    context["active_ids"] = [invoice_id]
    if method is None:
        method = await payment_method(rpc)
    session, start, _ = await rpc.call("wizard.account.invoice.pay.create", [context])
    try:
        view: dict[str, Any] = await rpc.call(
            "wizard.account.invoice.pay.execute", [session, {}, start, context]
        )
        form = {k: v for k, v in view.get("view", {}).get("defaults", {}).items() if "." not in k}
        form |= {"amount": amount, "payment_method": method, "date": on}
        await rpc.call(
            "wizard.account.invoice.pay.execute", [session, {"start": form}, "choice", context]
        )
    finally:
        await rpc.call("wizard.account.invoice.pay.delete", [session, context])


# --- checks, set-up ------------------------------------------------------------------


def _check(
    container: Container, sandbox: CrmSandbox, desk: Desk, progress: Progress
) -> CheckReport:
    step = progress.add_task(
        "Checking revsync against the ERP, the CRM and the tickets", total=None
    )
    report = CheckReport()

    async def erp() -> None:
        client = container.erp()
        try:
            await check_erp(container, client.rpc, report)
        finally:
            await client.aclose()

    asyncio.run(erp())
    check_crm(container, sandbox, report)

    async def deals() -> None:
        client = container.erp()
        try:
            await check_deals(container, client.rpc, sandbox, report)
        finally:
            await client.aclose()

    asyncio.run(deals())
    found = check_desk(container, desk)
    report.tickets, report.credits, report.flags = found.tickets, found.credits, found.flags
    report.mismatches += found.mismatches
    progress.update(step, total=1, completed=1)
    return report


def _build_erp(folder: Path, built: dict[str, Any]) -> None:
    """The ERP's database: a copy of the one built on the first run and kept in revsync's
    cache (``$REVSYNC_CACHE`` or ``~/.cache/revsync``) for later runs."""
    try:
        built["file"] = Path(
            shutil.copyfile(cached_database(admin_password=ERP_PASSWORD), folder / "revsync.sqlite")
        )
    except (OSError, TrytonError, ValueError) as error:  # reported when the demo needs the ERP
        built["error"] = error


def _secrets(directory: Path, sandbox: CrmSandbox, tool: SupportSandbox) -> None:
    """The ERP password, the CRM secret and the support tool's token, in this process's
    environment and in ``secrets.env`` (mode 0600) for later ``revsync worker`` runs."""
    values = {
        "REVSYNC_DEMO_ERP_PASSWORD": ERP_PASSWORD,
        "REVSYNC_DEMO_CRM_SECRET": sandbox.credentials.client_secret,
        "REVSYNC_DEMO_SUPPORT_TOKEN": tool.credentials.token,
    }
    os.environ.update(values)
    path = directory / "secrets.env"
    path.write_text("".join(f"export {k}={v}\n" for k, v in values.items()))
    os.chmod(path, 0o600)


def _clear(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in (*OWNED, "admin.key", "secrets.env", "report.json"):
        path = directory / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )

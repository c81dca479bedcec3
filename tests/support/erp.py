"""A provisioned Tryton for ERP tests: the template is provisioned once per test session (per
xdist worker) and copied for each test."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from revsync.adapters.connectors.erp.provision import Blueprint, provision
from revsync.adapters.connectors.erp.rpc import TrytonRpc
from revsync.adapters.connectors.erp.tryton import PeriodPolicy, TrytonErp
from revsync.sandbox.demo.run import pay as pay  # the pay wizard, as the demo's cashier runs it
from tests.support.tryton import ADMIN_LOGIN, ADMIN_PASSWORD, TrytonServer

T = TypeVar("T")
YEAR = date.today().year
BLUEPRINT = Blueprint(
    company="revsync Test SA",
    currency="EUR",
    currencies=("EUR", "USD", "JPY"),
    years=(YEAR - 1, YEAR, YEAR + 1),
    receivable_account="1.2.1",
    payable_account="2.1.1",
    tax_account="2.2.3",
    deferred_revenue_account="2.2.2",
    cash_account="1.1.1",
    payment_term_days=30,
    dunning_days=(15, 45, 75),
    taxes=(("FR", "standard", Decimal("20")), ("FR", "reduced", Decimal("5.5"))),
    products=(("REVSYNC", "4.1.2"), ("USAGE", "4.1.2"), ("ANNUAL", "4.2.2")),
)


def run(work: Awaitable[T]) -> T:
    """Run one coroutine to its end."""
    return asyncio.run(work)  # type: ignore[arg-type]


def rpc_for(server: TrytonServer) -> TrytonRpc:
    return TrytonRpc(server.url, server.database, ADMIN_LOGIN, ADMIN_PASSWORD)


def provisioned_template(template: Path, directory: Path) -> Path:
    """A copy of ``template`` provisioned with :data:`BLUEPRINT` (file ready to copy)."""
    server = TrytonServer(directory / "provisioning", template)
    server.start()
    try:

        async def go() -> None:
            client = rpc_for(server)
            try:
                await provision(client, BLUEPRINT)
            finally:
                await client.aclose()

        run(go())
    finally:
        server.stop()
    with sqlite3.connect(server.database_file) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    target = directory / "provisioned.sqlite"
    shutil.copyfile(server.database_file, target)
    return target


def erp_for(server: TrytonServer, policy: PeriodPolicy = "roll_forward") -> TrytonErp:
    return TrytonErp(
        rpc_for(server),
        receivable_account=BLUEPRINT.receivable_account,
        payment_term_days=BLUEPRINT.payment_term_days,
        period_policy=policy,
    )


def with_erp(
    server: TrytonServer,
    work: Callable[[TrytonErp], Awaitable[T]],
    policy: PeriodPolicy = "roll_forward",
) -> T:
    """Run ``work`` with a fresh adapter, closed afterwards."""

    async def go() -> T:
        erp = erp_for(server, policy)
        try:
            return await work(erp)
        finally:
            await erp.aclose()

    return run(go())


def with_rpc(server: TrytonServer, work: Callable[[TrytonRpc], Awaitable[T]]) -> T:
    """Run ``work`` with a fresh JSON-RPC client (for reading the ERP back in tests)."""

    async def go() -> T:
        client = rpc_for(server)
        try:
            return await work(client)
        finally:
            await client.aclose()

    return run(go())


#: the variable tests hand the ERP's admin password in
ERP_PASSWORD_ENV = "REVSYNC_TEST_ERP_PASSWORD"


def erp_section(server: TrytonServer, **extra: Any) -> dict[str, Any]:
    """The configuration's ``erp`` section for a test Tryton: one posting rule, quick retries
    (the password in ``ERP_PASSWORD_ENV``)."""
    return {
        "url": server.url,
        "database": server.database,
        "password_env": ERP_PASSWORD_ENV,
        "posting_rules": [{"product": "REVSYNC", "account": "4.1.2"}],
        "retry": {"base_seconds": 0.05, "max_delay_seconds": 0.2},
        **extra,
    }

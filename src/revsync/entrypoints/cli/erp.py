"""``revsync erp``: set the ERP up for revsync, and pull payment states from it."""

from __future__ import annotations

import asyncio

import typer

from revsync.adapters.connectors.erp.provision import provision
from revsync.application.erp import SyncReport
from revsync.bootstrap import erp_blueprint
from revsync.entrypoints.cli.context import ConfigOption, console, container_for

erp_app = typer.Typer(help="The ERP (Tryton): provisioning and payment sync.", no_args_is_help=True)


@erp_app.command("provision")
def erp_provision(config: ConfigOption = None) -> None:
    """Create what revsync posts with: company, currencies, chart of accounts, fiscal years
    and periods, payment term, taxes, products, deferred revenue account, payment method and
    dunning procedure. Running it again changes nothing."""
    with container_for(config) as container:
        blueprint = erp_blueprint(container.settings, container.clock.now().date())

        async def run() -> list[str]:
            client = container.erp()
            try:
                return (await provision(client.rpc, blueprint)).created
            finally:
                await client.aclose()

        created = asyncio.run(run())
    if not created:
        console.print("the ERP already had everything revsync needs")
    for what in created:
        console.print(f"created {what}", highlight=False)


@erp_app.command("sync")
def erp_sync(config: ConfigOption = None) -> None:
    """Settle credit notes against their invoices, raise the dunnings that are due, pull the
    payment state of posted invoices (paid, overdue, dunning level), announce the changes, and
    book the revenue recognition that is due."""
    with container_for(config) as container:

        async def run() -> SyncReport:
            client = container.erp()
            try:
                return await container.erp_sync().run(client)
            finally:
                await client.aclose()

        report = asyncio.run(run())
    console.print(
        f"checked {report.checked} invoices: {len(report.paid)} paid, "
        f"{len(report.overdue)} newly overdue, {report.dunnings} dunnings raised, "
        f"{len(report.settled)} settled by credit notes; {report.deferrals} deferrals started",
        highlight=False,
        soft_wrap=True,
    )

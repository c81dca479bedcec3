"""``revsync erp``: set the ERP up for revsync, and pull payment states from it."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from revsync.adapters.connectors.erp.provision import provision
from revsync.bootstrap import erp_blueprint
from revsync.entrypoints.cli.context import ConfigOption, console, container_for, err_console
from revsync.ports.erp import ErpInvoiceState, ErpPeriod

erp_app = typer.Typer(help="The ERP (Tryton): provisioning and payment sync.", no_args_is_help=True)


@erp_app.command("provision")
def erp_provision(config: ConfigOption = None) -> None:
    """Create what revsync posts with: company, currencies, chart of accounts, fiscal years
    and periods, payment term, taxes, products (salable, for the sale orders of won deals),
    deferred revenue account, payment method and dunning procedure. Running it again changes
    nothing but what is missing."""
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
        report = asyncio.run(container.sync_erp())
    console.print(
        f"checked {report.checked} invoices: {len(report.paid)} paid, "
        f"{len(report.overdue)} newly overdue, {report.dunnings} dunnings raised, "
        f"{len(report.settled)} settled by credit notes; {report.deferrals} deferrals started; "
        f"{len(report.collections.moved)} customers moved on the collections ladder",
        highlight=False,
        soft_wrap=True,
    )


@erp_app.command("collections")
def erp_collections(config: ConfigOption = None) -> None:
    """The customers on the collections ladder: dunning level, since when, the rungs whose
    CRM task is open, whether their tickets are flagged, the restriction in force."""
    with container_for(config) as container:
        found, after = [], None
        ladder = container.collections()
        while page := ladder.on_ladder(after, 500):
            found += page
            after = page[-1].customer_id
    if not found:
        console.print("no customer is on the collections ladder", highlight=False)
        return
    table = Table("customer", "level", "since", "tasks", "tickets", "restriction")
    for record in found:
        standing = record.standing
        restriction = standing.restriction
        table.add_row(
            record.customer_id,
            str(standing.level),
            record.since.isoformat() if record.since else "",
            ", ".join(f"level {t}" for t in standing.tasks),
            "flagged" if standing.flagged else "",
            f"{restriction.policy.value}: {', '.join(restriction.features)}" if restriction else "",
        )
    console.print(table)


@erp_app.command("show")
def erp_show(
    invoice_id: Annotated[str, typer.Argument(help="A revsync invoice or credit note id.")],
    config: ConfigOption = None,
) -> None:
    """The invoice as the ERP holds it: its ERP number and date, total, amount to pay, due
    date and dunning level (read from the ERP, not from revsync)."""
    with container_for(config) as container:
        invoice = container.billing.invoice(invoice_id)
        with container.unit_of_work(write=False) as uow:
            posting = uow.postings.get(invoice.id)
        if posting is None:
            err_console.print(
                f"{invoice.number or invoice.id} is not in the ERP yet", highlight=False
            )
            raise typer.Exit(1)

        async def read() -> ErpInvoiceState | None:
            client = container.erp()
            try:
                today = container.clock.now().date()
                return (await client.states([posting.remote_id], today)).get(posting.remote_id)
            finally:
                await client.aclose()

        state = asyncio.run(read())
    if state is None:
        err_console.print(f"the ERP has no invoice {posting.remote_id}", highlight=False)
        raise typer.Exit(1)
    payment = "paid" if state.paid else f"to pay {state.amount_to_pay}"
    if state.due_date and not state.paid:
        payment += f", due {state.due_date}"
    if state.dunning_level:
        payment += f", dunning {state.dunning_level}"
    console.print(
        f"{invoice.number} is {state.number} in the ERP, dated {posting.invoice_date}: total "
        f"{state.total} {invoice.currency}, {payment}",
        highlight=False,
        soft_wrap=True,
    )


@erp_app.command("periods")
def erp_periods(config: ConfigOption = None) -> None:
    """The ERP's fiscal periods from this month on, and which are open for postings."""
    with container_for(config) as container:
        since = container.clock.now().date().replace(day=1)

        async def read() -> list[ErpPeriod]:
            client = container.erp()
            try:
                return await client.periods(since)
            finally:
                await client.aclose()

        found = asyncio.run(read())
    for period in found:
        console.print(
            f"{period.name}  {period.start} – {period.end}  {period.state}", highlight=False
        )

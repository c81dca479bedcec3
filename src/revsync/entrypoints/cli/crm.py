"""``revsync crm``: pull accounts and contracts from the CRM, and queue the signals for it."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from revsync.domain.identity import System
from revsync.entrypoints.cli.context import ConfigOption, console, container_for, err_console
from revsync.ports.deals import DealStatus

crm_app = typer.Typer(
    help="The CRM (Salesforce): account, contract, won opportunity and signal sync.",
    no_args_is_help=True,
)


@crm_app.command("sync")
def crm_sync(config: ConfigOption = None) -> None:
    """Pull the accounts and contracts changed since the last sync (customers, hierarchy,
    subscriptions and amendments) and, with quote-to-cash on, the won opportunities (deals
    taken or refused), then queue the signals that changed for the CRM (the worker delivers
    them)."""
    with container_for(config) as container:
        pulled = asyncio.run(container.pull_crm())
        pushed = container.crm_signals().run()
    console.print(
        f"read {pulled.accounts} accounts and {pulled.contracts} contracts changed since the "
        f"last sync (less crm.overlap_seconds): "
        f"{len(pulled.customers_created)} customers created, {len(pulled.customers_changed)} "
        f"changed, {len(pulled.subscriptions_created)} subscriptions created, "
        f"{len(pulled.amendments)} amendments, {len(pulled.refused)} refused",
        highlight=False,
        soft_wrap=True,
    )
    for reason in pulled.refused:
        console.print(f"  refused {reason}", highlight=False, soft_wrap=True)
    if pulled.deals is not None:
        deals = pulled.deals
        console.print(
            f"read {deals.read} won opportunities: {len(deals.taken)} deals taken, "
            f"{len(deals.refused)} refused",
            highlight=False,
            soft_wrap=True,
        )
        for taken in deals.taken:
            console.print(f"  taken {taken}", highlight=False, soft_wrap=True)
        for refused in deals.refused:
            console.print(f"  refused {refused}", highlight=False, soft_wrap=True)
        for dropped in deals.dropped:
            console.print(f"  dropped {dropped}: refused before, no longer won", highlight=False)
    console.print(
        f"assessed {pushed.assessed} customers: {len(pushed.accounts)} with changed signals, "
        f"{len(pushed.tasks)} tasks, {len(pushed.opportunities)} opportunities queued",
        highlight=False,
        soft_wrap=True,
    )


@crm_app.command("show")
def crm_show(
    customer_id: Annotated[str, typer.Argument(help="A revsync customer id.")],
    config: ConfigOption = None,
) -> None:
    """The customer's CRM account as the CRM holds it: its name and the fields revsync writes
    (read from the CRM, not from revsync)."""
    with container_for(config) as container:
        customer = container.customers.get(customer_id)
        accounts = customer.refs_in(System.CRM)
        if not accounts:
            err_console.print(f"{customer_id} has no CRM account", highlight=False)
            raise typer.Exit(1)
        fields = ["Name", *container.settings.crm.signal_fields.values()]

        async def read() -> dict[str, Any]:
            client = container.crm()
            try:
                return await client.read("Account", accounts[0], fields)
            finally:
                await client.aclose()

        found = asyncio.run(read())
    console.print(f"CRM account {accounts[0]}", highlight=False)
    for name in fields:
        console.print(f"  {name}: {found.get(name)}", highlight=False, soft_wrap=True)


@crm_app.command("deals")
def crm_deals(
    status: Annotated[
        DealStatus | None, typer.Option(help="Only deals taken, or only those refused.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Won opportunities and what revsync made of them (quote-to-cash): the subscription and
    the ERP sale order of each deal taken, the reason of each refused (its case holds it)."""
    with container_for(config) as container:
        found = container.quote_to_cash().deals(status=status, after=None, limit=10_000)
    if not found:
        console.print("no deals", highlight=False)
        return
    for deal in found:
        if deal.status is DealStatus.REFUSED:
            line = f"{deal.opportunity_id}  refused: {deal.reason}"
        else:
            sale = f"ERP sale order {deal.erp_sale_number}" if deal.erp_sale_number else "no sale"
            line = (
                f"{deal.opportunity_id}  taken: {deal.customer_id}, {deal.subscription_id} "
                f"({deal.kind}) from {deal.start}, {sale}"
            )
        console.print(line, highlight=False, soft_wrap=True)

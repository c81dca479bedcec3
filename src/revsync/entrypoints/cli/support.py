"""``revsync support``: the support tool's tickets enriched with each customer's context."""

from __future__ import annotations

import asyncio

import typer

from revsync.entrypoints.cli.context import ConfigOption, console, container_for

support_app = typer.Typer(
    help="The support tool (Zendesk): ticket context and its fields.", no_args_is_help=True
)


@support_app.command("provision")
def support_provision(config: ConfigOption = None) -> None:
    """Create the ticket fields revsync writes (support.fields) where the tool lacks them."""
    with container_for(config) as container:

        async def provision() -> list[str]:
            client = container.support()
            try:
                return await client.provision()
            finally:
                await client.aclose()

        created = asyncio.run(provision())
    if created:
        console.print(f"created ticket fields: {', '.join(created)}", highlight=False)
    else:
        console.print("every ticket field revsync writes is there", highlight=False)


@support_app.command("sync")
def support_sync(config: ConfigOption = None) -> None:
    """Read the organizations and tickets changed since the last sync, map organizations to
    customers, and queue each open ticket's context where it changed (the worker writes it)."""
    with container_for(config) as container:
        report = asyncio.run(container.sync_support())
    console.print(
        f"{len(report.organizations_mapped)} organizations mapped, {report.tickets_read} "
        f"tickets read ({report.tickets_unmapped} of unmapped organizations), "
        f"{len(report.contexts_queued)} contexts queued",
        highlight=False,
        soft_wrap=True,
    )

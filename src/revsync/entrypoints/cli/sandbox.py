"""``revsync sandbox``: the simulated systems, served for demos and manual testing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from revsync.entrypoints.cli.context import console, err_console

if TYPE_CHECKING:
    from revsync.sandbox.crm import CrmSandbox

sandbox_app = typer.Typer(help="Simulated systems for demos and tests.", no_args_is_help=True)


@sandbox_app.command("crm")
def sandbox_crm(
    directory: Annotated[
        Path, typer.Option("--dir", help="Folder for the records, certificate and credentials.")
    ] = Path("crm-sandbox"),
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8443,
    seed: Annotated[
        int | None, typer.Option(help="Accounts to create when the folder is new.", min=0)
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    daily_limit: Annotated[
        int, typer.Option("--daily-limit", help="Daily API request budget.", min=0)
    ] = 15000,
) -> None:
    """Serve the Salesforce-compatible CRM sandbox over HTTPS until Ctrl-C."""
    from revsync.sandbox.crm import CrmSandbox, serve_until_signalled

    sandbox = CrmSandbox(directory, seed=seed, host=host, port=port, daily_limit=daily_limit)
    try:
        serve_until_signalled(sandbox, _announce)
    except (OSError, ValueError) as error:
        err_console.print(f"[red]cannot serve the CRM sandbox[/red]: {error}", highlight=False)
        raise typer.Exit(1) from None


def _announce(sandbox: CrmSandbox) -> None:
    credentials = sandbox.credentials
    console.print(f"CRM sandbox listening on {sandbox.url}", highlight=False, soft_wrap=True)
    console.print(f"certificate: {sandbox.cert_path}", highlight=False, soft_wrap=True)
    console.print(f"token endpoint: {sandbox.token_url}", highlight=False, soft_wrap=True)
    console.print(
        f"client id: {credentials.client_id}; username: {credentials.username}; client secret, "
        f"password and admin token: in {sandbox.credentials_path}",
        highlight=False,
        soft_wrap=True,
    )
    console.print("press Ctrl-C to stop", highlight=False)

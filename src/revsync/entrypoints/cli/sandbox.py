"""``revsync sandbox``: the simulated systems, served for demos and manual testing."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from revsync.entrypoints.cli.context import (
    console,
    err_console,
    require_demo_extra,
    settings_from,
)

if TYPE_CHECKING:
    from revsync.sandbox.crm import CrmSandbox
    from revsync.sandbox.serving import HttpsSandbox
    from revsync.sandbox.support import SupportSandbox

SandboxT = TypeVar("SandboxT", bound="HttpsSandbox")

sandbox_app = typer.Typer(help="Simulated systems for demos and tests.", no_args_is_help=True)

#: the options ``revsync sandbox crm`` and ``revsync sandbox support`` share
FolderOption = Annotated[
    Path, typer.Option("--dir", help="Folder for the records, certificate and credentials.")
]
PortOption = Annotated[int, typer.Option(help="Port to listen on (0: any free port).")]
HostOption = Annotated[str, typer.Option(help="Address to listen on.")]


def _serve(sandbox: SandboxT, announce: Callable[[SandboxT], None]) -> None:
    """Serve ``sandbox`` until Ctrl-C; exit 1 when it cannot serve."""
    from revsync.sandbox.serving import serve_until_signalled

    try:
        serve_until_signalled(sandbox, announce)
    except (OSError, ValueError) as error:
        err_console.print(f"[red]cannot serve the {sandbox.label}[/red]: {error}", highlight=False)
        raise typer.Exit(1) from None


@sandbox_app.command("crm")
def sandbox_crm(
    directory: FolderOption = Path("crm-sandbox"),
    port: PortOption = 8443,
    seed: Annotated[
        int | None, typer.Option(help="Accounts to create when the folder is new.", min=0)
    ] = None,
    host: HostOption = "127.0.0.1",
    daily_limit: Annotated[
        int, typer.Option("--daily-limit", help="Daily API request budget.", min=0)
    ] = 15000,
) -> None:
    """Serve the Salesforce-compatible CRM sandbox over HTTPS until Ctrl-C."""
    from revsync.sandbox.crm import CrmSandbox

    sandbox = CrmSandbox(directory, seed=seed, host=host, port=port, daily_limit=daily_limit)
    _serve(sandbox, _announce)


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


@sandbox_app.command("support")
def sandbox_support(
    directory: FolderOption = Path("support-sandbox"),
    port: PortOption = 8444,
    seed: Annotated[
        int | None, typer.Option(help="Organizations to create when the folder is new.", min=0)
    ] = None,
    host: HostOption = "127.0.0.1",
    rate_limit: Annotated[
        int, typer.Option("--rate-limit", help="API requests allowed per minute.", min=0)
    ] = 700,
) -> None:
    """Serve the Zendesk-compatible support sandbox over HTTPS until Ctrl-C."""
    from revsync.sandbox.support import SupportSandbox

    sandbox = SupportSandbox(directory, seed=seed, host=host, port=port, rate_limit=rate_limit)
    _serve(sandbox, _announce_support)


def _announce_support(sandbox: SupportSandbox) -> None:
    console.print(f"support sandbox listening on {sandbox.url}", highlight=False, soft_wrap=True)
    console.print(f"API: {sandbox.url}/api/v2/", highlight=False, soft_wrap=True)
    console.print(f"certificate: {sandbox.cert_path}", highlight=False, soft_wrap=True)
    console.print(
        f"agent: {sandbox.credentials.email} (HTTP Basic email/token:API token); API token in "
        f"{sandbox.credentials_path}",
        highlight=False,
        soft_wrap=True,
    )
    console.print("press Ctrl-C to stop", highlight=False)


@sandbox_app.command("up")
def sandbox_up(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="A configuration written by revsync demo.")
    ] = Path("revsync.yaml"),
) -> None:
    """Serve the local Tryton ERP, the CRM sandbox and the support sandbox of a demo folder
    again (their data in ``erp/``, ``crm/`` and ``support/`` beside the configuration, on the
    ports it names) until Ctrl-C."""
    require_demo_extra("revsync sandbox up")
    import signal
    import threading
    from urllib.parse import urlsplit

    from revsync.sandbox.crm import CrmSandbox
    from revsync.sandbox.tryton import LocalTryton, TrytonError

    settings = settings_from(config)
    erp_url, crm_url = settings.erp.url, settings.crm.url
    if erp_url is None or crm_url is None:
        err_console.print(f"{config}: no erp.url or crm.url: not a demo configuration")
        raise typer.Exit(2)
    folder = config.resolve().parent
    database = folder / "erp" / f"{settings.erp.database}.sqlite"
    tryton = LocalTryton(folder / "erp", database, port=urlsplit(erp_url).port or 0)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    support_url = settings.support.url
    try:
        with contextlib.ExitStack() as running:
            running.enter_context(tryton)
            crm = running.enter_context(
                CrmSandbox(folder / "crm", port=urlsplit(crm_url).port or 0)
            )
            served = f"ERP (Tryton) on {tryton.url}, CRM sandbox on {crm.url}"
            if support_url is not None and (folder / "support").is_dir():
                from revsync.sandbox.support import SupportSandbox

                tool = running.enter_context(
                    SupportSandbox(folder / "support", port=urlsplit(support_url).port or 0)
                )
                served += f", support sandbox on {tool.url}"
            console.print(served, soft_wrap=True)
            console.print("ready; press Ctrl-C to stop", highlight=False)
            stop.wait()
    except (OSError, ValueError, TrytonError) as error:
        err_console.print(f"[red]cannot serve the demo's systems[/red]: {error}", highlight=False)
        raise typer.Exit(1) from None

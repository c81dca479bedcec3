"""Shared CLI plumbing: loading settings, building the container, reporting errors."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from revsync.bootstrap import Container, build
from revsync.config import ConfigError, Settings, config_path, load_settings
from revsync.domain.errors import DomainError
from revsync.observability.logging import configure_logging
from revsync.ports.clock import Clock
from revsync.ports.crm import CrmRefused, CrmUnavailable
from revsync.ports.erp import ErpRefused, ErpUnavailable

console = Console()
err_console = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Config file (default: $REVSYNC_CONFIG, else ./revsync.yaml)."
    ),
]


@dataclass(frozen=True, slots=True)
class Injected:
    """What the commands of this process use instead of their defaults: tests run commands
    with a frozen clock this way (:func:`injecting`). Left out, commands read the system
    clock."""

    clock: Clock | None = None


_injected = Injected()


@contextmanager
def injecting(value: Injected) -> Iterator[None]:
    """Run the commands invoked inside the block with ``value`` injected."""
    global _injected
    previous, _injected = _injected, value
    try:
        yield
    finally:
        _injected = previous


def settings_from(config: Path | None) -> Settings:
    """Load settings or exit with status 2 and the reason."""
    try:
        return load_settings(config_path(config))
    except ConfigError as error:
        err_console.print(
            f"[red]configuration error[/red]: {error}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(2) from None


@contextmanager
def refusing_configuration_errors() -> Iterator[None]:
    """Turn a configuration that cannot be used (a secret not set, a key too short) into one
    line and exit status 2."""
    try:
        yield
    except ConfigError as error:
        err_console.print(
            f"[red]configuration error[/red]: {error}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(2) from None


#: the exit status of a command whose database, ERP or CRM cannot be reached, or whose parts
#: are not installed (EX_UNAVAILABLE)
UNAVAILABLE = 69


@contextmanager
def reachable_database(url: str) -> Iterator[None]:
    """Turn a database that cannot be reached into one line naming it and exit status 69."""
    try:
        yield
    except sa_exc.OperationalError as error:
        where = make_url(url).render_as_string(hide_password=True)
        detail = str(error.orig).strip().splitlines()[0] if error.orig is not None else ""
        err_console.print(
            f"[red]error[/red]: cannot reach the database {where}"
            + (f" ({detail})" if detail else ""),
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(UNAVAILABLE) from None


@contextmanager
def container_for(config: Path | None) -> Iterator[Container]:
    """A wired container for one command; domain errors exit with status 1 and the reason."""
    settings = settings_from(config)
    configure_logging(
        settings.logging.level if settings.logging.level != "INFO" else "WARNING", "console"
    )
    with refusing_configuration_errors():
        container = build(settings, clock=_injected.clock)
    try:
        with reachable_database(settings.database.url):
            yield container
    except (ErpUnavailable, CrmUnavailable, ErpRefused, CrmRefused) as error:
        # not reachable: one line and 69; refused (a wrong password, missing rights): one line
        system, url = (
            ("ERP", settings.erp.url)
            if isinstance(error, ErpUnavailable | ErpRefused)
            else ("CRM", settings.crm.url)
        )
        refused = isinstance(error, ErpRefused | CrmRefused)
        what = (
            f"the {system} at {url} refused" if refused else f"cannot reach the {system} at {url}"
        )
        err_console.print(f"[red]error[/red]: {what}: {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(1 if refused else UNAVAILABLE) from None
    except DomainError as error:
        err_console.print(f"[red]error[/red]: {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except ConfigError as error:
        err_console.print(
            f"[red]configuration error[/red]: {error}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(2) from None
    finally:
        container.close()


def cli_actor() -> str:
    """Who runs the command, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def require_demo_extra(command: str) -> None:
    """Exit with status 69 and one line when the demo's parts (the local ERP) are not
    installed."""
    from revsync.sandbox.tryton import missing_packages

    missing = missing_packages()
    if missing:
        err_console.print(
            f"{command} needs revsync's demo extra ({', '.join(missing)} not installed): "
            "python3 -m pip install 'revsync[demo]' (from a clone: python3 -m pip install "
            "-c constraints.txt -e '.[demo]')",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(UNAVAILABLE)

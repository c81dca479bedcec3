"""``revsync cases``: exception cases from the command line (the API's case actions)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from revsync.application.cases import ReplaySelection
from revsync.domain.delivery import CaseKind, CaseStatus
from revsync.entrypoints.cli.context import (
    ConfigOption,
    cli_actor,
    console,
    container_for,
    err_console,
)
from revsync.ports.delivery import Case, CaseFilter

cases_app = typer.Typer(
    help="Exception cases: failures with an address (undeliverable messages, unmapped usage).",
    no_args_is_help=True,
)

E = TypeVar("E", CaseKind, CaseStatus)

ReasonOption = Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")]


@cases_app.command("list")
def cases_list(
    status: Annotated[str | None, typer.Option(help="open, retrying, resolved, ignored.")] = None,
    kind: Annotated[
        str | None, typer.Option(help=", ".join(k.value for k in CaseKind) + ".")
    ] = None,
    destination: Annotated[str | None, typer.Option(help="A destination name.")] = None,
    since: Annotated[str | None, typer.Option(help="Opened at or after (ISO time).")] = None,
    until: Annotated[str | None, typer.Option(help="Opened before (ISO time).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    config: ConfigOption = None,
) -> None:
    """List cases, oldest id first."""
    where = CaseFilter(
        status=_choice(CaseStatus, status, "--status"),
        kind=_choice(CaseKind, kind, "--kind"),
        destination=destination,
        since=_time(since, "--since"),
        until=_time(until, "--until"),
    )
    with container_for(config) as container:
        found = container.cases.find(where, after=None, limit=limit)
    # one line per case, so that the list reads (and greps) the same in any terminal
    for case in found:
        parts = [
            case.id,
            case.kind.value,
            case.status.value,
            f"{case.object_type} {case.object_id}",
            f"→ {case.destination}" if case.destination else "",
            case.opened_at.isoformat(timespec="seconds"),
            case.last_error or "",
        ]
        console.print("  ".join(p for p in parts if p), highlight=False, soft_wrap=True)
    if not found:
        console.print("no cases")


@cases_app.command("show")
def cases_show(
    case_id: Annotated[str, typer.Argument(help="The case id.")], config: ConfigOption = None
) -> None:
    """A case with its message and every attempt."""
    with container_for(config) as container:
        view = container.cases.show(case_id)
    _print_case(view.case)
    if view.message is not None:
        message = view.message.message
        console.print(
            f"message {message.id}: {message.kind} to {message.destination}, "
            f"{view.message.status.value}, key {message.key}",
            highlight=False,
        )
    table = Table("#", "started", "outcome", "status", "error")
    for attempt in view.attempts:
        table.add_row(
            str(attempt.number),
            attempt.started_at.isoformat(timespec="seconds"),
            attempt.outcome,
            str(attempt.status_code or ""),
            attempt.error or "",
        )
    if view.attempts:
        console.print(table)


@cases_app.command("retry")
def cases_retry(
    case_id: Annotated[str, typer.Argument(help="The case id.")],
    reason: ReasonOption = "",
    config: ConfigOption = None,
) -> None:
    """Queue the case's message again now."""
    with container_for(config) as container:
        case = container.cases.retry(case_id, cli_actor(), reason)
    _print_case(case)


@cases_app.command("approve")
def cases_approve(
    case_id: Annotated[str, typer.Argument(help="The case id.")],
    reason: ReasonOption = "",
    config: ConfigOption = None,
) -> None:
    """Queue the case's message again, approved past the destination's hold (for the ERP: an
    invoice of a closed period is posted in the next open one)."""
    with container_for(config) as container:
        case = container.cases.approve(case_id, cli_actor(), reason)
    _print_case(case)


@cases_app.command("replay")
def cases_replay(
    case_id: Annotated[str | None, typer.Option("--case", help="One case.")] = None,
    destination: Annotated[str | None, typer.Option(help="Every case of a destination.")] = None,
    since: Annotated[str | None, typer.Option(help="Opened at or after (ISO time).")] = None,
    until: Annotated[str | None, typer.Option(help="Opened before (ISO time).")] = None,
    reason: ReasonOption = "",
    config: ConfigOption = None,
) -> None:
    """Queue the messages of open or ignored delivery and outage cases again."""
    selection = ReplaySelection(
        case_id, destination, _time(since, "--since"), _time(until, "--until")
    )
    with container_for(config) as container:
        replayed = container.cases.replay(selection, cli_actor(), reason)
    console.print(f"{len(replayed)} cases queued again", highlight=False)
    for case_id_ in replayed:
        console.print(f"  {case_id_}", highlight=False)


@cases_app.command("resolve")
def cases_resolve(
    case_id: Annotated[str, typer.Argument(help="The case id.")],
    reason: ReasonOption,
    config: ConfigOption = None,
) -> None:
    """Close a case as settled; its message will not be delivered."""
    with container_for(config) as container:
        case = container.cases.resolve(case_id, cli_actor(), reason)
    _print_case(case)


@cases_app.command("ignore")
def cases_ignore(
    case_id: Annotated[str, typer.Argument(help="The case id.")],
    reason: ReasonOption,
    config: ConfigOption = None,
) -> None:
    """Close a case as not worth acting on; its message will not be delivered."""
    with container_for(config) as container:
        case = container.cases.ignore(case_id, cli_actor(), reason)
    _print_case(case)


def _print_case(case: Case) -> None:
    console.print(
        f"{case.id}: {case.kind.value}, {case.status.value} — {case.object_type} "
        f"{case.object_id}" + (f" → {case.destination}" if case.destination else ""),
        highlight=False,
        soft_wrap=True,
    )
    if case.last_error:
        console.print(f"  last error: {case.last_error}", highlight=False, soft_wrap=True)
    if case.reason:
        console.print(f"  reason: {case.reason}", highlight=False, soft_wrap=True)
    for name, value in (case.details or {}).items():
        console.print(f"  {name}: {value}", highlight=False)


def _choice(enum: type[E], value: str | None, option: str) -> E | None:
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(e.value for e in enum)
        err_console.print(f"{option}: {value!r} is not one of {choices}")
        raise typer.Exit(2) from None


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        err_console.print(f"{option}: {value!r} is not an ISO time (2026-11-01T00:00:00Z)")
        raise typer.Exit(2) from None
    if moment.tzinfo is None:
        err_console.print(f"{option}: {value!r} needs a UTC offset (Z or +01:00)")
        raise typer.Exit(2)
    return moment

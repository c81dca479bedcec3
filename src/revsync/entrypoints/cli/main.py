"""``revsync``: the command line. Run ``revsync --help``."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from revsync import __version__
from revsync.adapters.db.migrate import current_revision, head_revision, upgrade
from revsync.bootstrap import apply_configuration
from revsync.config import CONFIG_ENV, DEFAULT_CONFIG_NAME, EXAMPLE_CONFIG, config_path
from revsync.domain.audit import Algorithm, Anchor, InvalidAnchor, parse_anchors
from revsync.entrypoints.cli.cases import cases_app
from revsync.entrypoints.cli.context import (
    ConfigOption,
    cli_actor,
    console,
    container_for,
    err_console,
    reachable_database,
    refusing_configuration_errors,
    require_demo_extra,
    settings_from,
)
from revsync.entrypoints.cli.crm import crm_app
from revsync.entrypoints.cli.erp import erp_app
from revsync.entrypoints.cli.events import events_app
from revsync.entrypoints.cli.ingest import ingest_files
from revsync.entrypoints.cli.kpis import kpis
from revsync.entrypoints.cli.prune import prune
from revsync.entrypoints.cli.reconcile import reconcile
from revsync.entrypoints.cli.renewals import renewals
from revsync.entrypoints.cli.rerate import rerate
from revsync.entrypoints.cli.sandbox import sandbox_app
from revsync.entrypoints.cli.schemas import schema_app
from revsync.entrypoints.cli.support import support_app
from revsync.entrypoints.runtime import tune_gc

app = typer.Typer(
    name="revsync",
    help="revsync: usage in, invoices to the ERP, signals to the CRM.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys (stored hashed; shown once).", no_args_is_help=True)
audit_app = typer.Typer(
    help="The audit chain (keyed with the audit key): verify it, anchor it.", no_args_is_help=True
)


def _version(shown: bool) -> None:
    if shown:
        console.print(f"revsync {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """revsync: usage in, invoices to the ERP, signals to the CRM."""


app.add_typer(db_app, name="db")
app.add_typer(apikey_app, name="apikey")
app.add_typer(audit_app, name="audit")
app.add_typer(cases_app, name="cases")
app.add_typer(erp_app, name="erp")
app.add_typer(crm_app, name="crm")
app.add_typer(support_app, name="support")
app.add_typer(events_app, name="events")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(schema_app, name="schema")
app.command("reconcile")(reconcile)
app.command("kpis")(kpis)
app.command("prune")(prune)
app.command("renewals")(renewals)
app.command("rerate")(rerate)


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the config.")] = Path(
        DEFAULT_CONFIG_NAME
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example configuration."""
    if path.exists() and not force:
        err_console.print(f"{path} exists; use --force to overwrite it")
        raise typer.Exit(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(EXAMPLE_CONFIG, path)
    console.print(f"wrote {path}; next: [bold]revsync db upgrade --config {path}[/bold]")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Create or migrate the schema to the newest revision."""
    with container_for(config) as container:
        upgrade(container.engine)
        apply_configuration(container, cli_actor())
        console.print(f"database at revision {current_revision(container.engine)}")


@db_app.command("current")
def db_current(config: ConfigOption = None) -> None:
    """Show the schema revision of the database and the newest one available."""
    with container_for(config) as container:
        console.print(
            f"database: {current_revision(container.engine) or 'empty'}; newest: {head_revision()}"
        )


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Option("--name", help="What the key is for.")],
    role: Annotated[
        list[str],
        typer.Option(
            "--role",
            "--scope",
            help="ingest, read, finance, ops, metrics or admin; repeat for several.",
        ),
    ],
    customer: Annotated[
        list[str] | None,
        typer.Option(
            "--customer",
            help="Limit the key to this customer and its descendants; repeat for several.",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Issue a key and print it once."""
    with container_for(config) as container:
        issued = container.api_keys.create(name, role, cli_actor(), customer or ())
    reach = f"; customers {', '.join(sorted(issued.key.customers))}" if issued.key.limited else ""
    console.print(
        f"created {issued.key.id} ({', '.join(sorted(issued.key.roles))}{reach}); "
        "store the key now, it is not shown again:"
    )
    typer.echo(issued.secret)


@apikey_app.command("list")
def apikey_list(config: ConfigOption = None) -> None:
    """List keys (never their secrets)."""
    with container_for(config) as container:
        keys = container.api_keys.all()
    table = Table("id", "name", "prefix", "roles", "customers", "created", "revoked")
    for key in keys:
        table.add_row(
            key.id,
            key.name,
            key.prefix,
            " ".join(sorted(key.roles)),
            " ".join(sorted(key.customers)) or "all",
            key.created_at.isoformat(timespec="seconds"),
            key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "",
        )
    console.print(table)


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: Annotated[str, typer.Argument(help="Key id (see 'apikey list').")],
    config: ConfigOption = None,
) -> None:
    """Revoke a key."""
    with container_for(config) as container:
        key = container.api_keys.revoke(key_id, cli_actor())
    console.print(f"revoked {key.id} at {key.revoked_at}")


AnchorOption = Annotated[
    str | None,
    typer.Option(
        "--anchor",
        help="An anchor from 'revsync audit anchor': its JSON, or a file of them (one a line).",
    ),
]

#: the longest anchor file read (a line is ~150 bytes)
_ANCHOR_BYTES = 1024 * 1024


def _anchors(given: str | None) -> list[Anchor]:
    """The anchors given to ``--anchor``; exit status 2 with the reason if unreadable."""
    if given is None:
        return []
    try:
        if given.lstrip().startswith("{"):
            text = given
        else:
            with Path(given).open("rb") as file:
                data = file.read(_ANCHOR_BYTES + 1)
            if len(data) > _ANCHOR_BYTES:
                raise InvalidAnchor(f"{given}: larger than {_ANCHOR_BYTES} bytes")
            text = data.decode()
        return parse_anchors(text)
    except (OSError, UnicodeDecodeError, InvalidAnchor) as error:
        err_console.print(
            f"[red]cannot read the anchor[/red]: {escape(str(error))}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from None


@audit_app.command("verify")
def audit_verify(anchor: AnchorOption = None, config: ConfigOption = None) -> None:
    """Recompute the chain; check its end against the head row (and anchors); exit 0 if it
    holds, else name the first entry that does not (1; 2: it could not be checked)."""
    anchors = _anchors(anchor)
    with container_for(config) as container:
        check = container.audit.verify(anchors)
    if check.intact:
        kinds = ", ".join(f"{n} {alg}" for alg, n in sorted(check.algorithms.items()))
        unkeyed = check.algorithms.keys() - {Algorithm.HMAC_SHA256_JCS.value}
        note = "; unkeyed entries are not protected against recomputation" if unkeyed else ""
        pinned = f"; {len(anchors)} anchor(s) found" if anchors else ""
        console.print(
            f"audit log intact: {check.checked} entries verified"
            + (f" ({kinds})" if kinds else "")
            + pinned
            + note,
            highlight=False,
            soft_wrap=True,
        )
        return
    entry = check.broken
    what = (
        ""
        if entry is None
        else f" ({entry.record.action} on {entry.record.object_type} {entry.record.object_id})"
    )
    status = "cannot be verified" if check.unverifiable else "broken"
    err_console.print(
        f"[red]audit log {status}[/red] at entry {check.seq}{escape(what)}: "
        f"{escape(check.reason or '')}; {check.checked} entries before it verified",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(2 if check.unverifiable else 1)


@audit_app.command("anchor")
def audit_anchor(config: ConfigOption = None) -> None:
    """Print the chain's end (seq, hash, time) as one line of JSON, to keep elsewhere and give
    to 'revsync audit verify --anchor' later."""
    with container_for(config) as container:
        anchor = container.audit.anchor()
    typer.echo(anchor.to_json())


@app.command()
def ingest(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="NDJSON or CSV files (by extension; see --format).", exists=True, dir_okay=False
        ),
    ],
    fmt: Annotated[str, typer.Option("--format", help="auto, ndjson or csv.")] = "auto",
    chunk: Annotated[
        int, typer.Option(help="Events per transaction.", min=1, max=100_000)
    ] = 10_000,
    config: ConfigOption = None,
) -> None:
    """Load usage files by the API's rules; bad lines are reported by line number."""
    if fmt not in ("auto", "ndjson", "csv"):
        err_console.print("--format must be auto, ndjson or csv")
        raise typer.Exit(2)
    tune_gc()
    with container_for(config) as container:
        failed = ingest_files(container, files, fmt, chunk, cli_actor())
    if failed:
        raise typer.Exit(1)


@app.command()
def bill(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Bill periods due on or before this date (YYYY-MM-DD)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Run billing: rate due periods into invoices, finalize those past their grace period."""
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        err_console.print(f"--as-of: {as_of!r} is not a date (YYYY-MM-DD)")
        raise typer.Exit(2) from None
    tune_gc()
    with container_for(config) as container:
        report = container.billing.run(day, cli_actor())
    table = Table("as of", "created", "updated", "unchanged", "finalized", "adjusted", "errors")
    table.add_row(
        report.as_of.isoformat(),
        str(len(report.created)),
        str(len(report.updated)),
        str(len(report.unchanged)),
        str(len(report.finalized)),
        str(len(report.adjusted)),
        str(len(report.errors)),
    )
    console.print(table)
    for error in report.errors:
        err_console.print(
            f"[red]{error.subscription_id}[/red]: {error.reason} (case {error.case_id})",
            highlight=False,
            soft_wrap=True,
        )
    if report.errors:
        raise typer.Exit(1)


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Overrides server.host.")] = None,
    port: Annotated[int | None, typer.Option(help="Overrides server.port.")] = None,
    workers: Annotated[int | None, typer.Option(help="Overrides server.workers.", min=1)] = None,
    with_worker: Annotated[
        bool, typer.Option("--with-worker", help="Also deliver the outbox in this process.")
    ] = False,
) -> None:
    """Serve the HTTP API (uvicorn)."""
    from revsync.entrypoints.api.serve import run

    path = config_path(config)
    settings = settings_from(path)
    if path is not None:  # worker processes read the same file
        os.environ[CONFIG_ENV] = str(path.resolve())
    with reachable_database(settings.database.url), refusing_configuration_errors():
        run(settings, host=host, port=port, workers=workers, with_worker=with_worker)


@app.command()
def worker(
    config: ConfigOption = None,
    owner: Annotated[
        str | None, typer.Option(help="This relay's name in leases (default: host:pid).")
    ] = None,
) -> None:
    """Deliver the outbox to the configured destinations until stopped (SIGTERM, Ctrl-C):
    retries with backoff, circuit breakers, exception cases for what cannot be delivered."""
    from revsync.entrypoints.workers.relay import run_worker

    settings = settings_from(config)
    with reachable_database(settings.database.url), refusing_configuration_errors():
        run_worker(settings, owner)


@app.command()
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Folder for the demo's config and data (made afresh).")
    ] = Path("revsync-demo"),
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the report to this JSON file.")
    ] = None,
    accounts: Annotated[
        int, typer.Option(help="CRM accounts to seed (customers, some in hierarchies).", min=10)
    ] = 50,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API on the data afterwards.")
    ] = False,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8080,
    events_url: Annotated[
        str | None,
        typer.Option(
            "--events-url",
            help="Also publish revsync's events to this NATS JetStream (nats://host:4222; "
            "stream REVSYNC, subjects revsync.events.<type>; see docs/events.md).",
        ),
    ] = None,
) -> None:
    """Play a quarter of a B2B SaaS company through revsync — usage in, invoices to a local
    Tryton ERP, contracts in from and signals out to the CRM sandbox, with faults on the way —
    then check the ERP and the CRM through their own APIs. Exits 1 on any mismatch."""
    require_demo_extra("revsync demo")
    from revsync.sandbox.demo import run_demo

    events = {"nats_url": events_url} if events_url else None
    if events is not None:
        from pydantic import ValidationError

        from revsync.config import EventStreamSettings

        try:
            EventStreamSettings.model_validate(events)
        except ValidationError as error:
            reason = error.errors()[0]["msg"].removeprefix("Value error, ")
            raise typer.BadParameter(reason, param_hint="--events-url") from None
    report = run_demo(
        directory, console=console, json_path=json_path, accounts=accounts, events=events
    )
    if not report.ok:
        raise typer.Exit(1)
    if serve_api:
        from revsync.entrypoints.api.serve import run

        run(settings_from(directory / "revsync.yaml"), host=None, port=port)


def main() -> None:
    """Console entry point."""
    app()

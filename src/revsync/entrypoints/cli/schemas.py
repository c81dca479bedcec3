"""``revsync schema``: the schema registry from the command line (the API's operations)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
import typer

from revsync.application.schemas import Declaration
from revsync.domain.errors import InvalidField
from revsync.domain.schemas import Compatibility, upcast_from
from revsync.entrypoints.cli.context import ConfigOption, cli_actor, console, container_for
from revsync.schemas.event_schemas import read_exact

schema_app = typer.Typer(
    help="Event schemas: versioned JSON Schemas of event data (docs/governance.md).",
    no_args_is_help=True,
)


@schema_app.command("list")
def schema_list(config: ConfigOption = None) -> None:
    """Every declared type with its versions and compatibility, and the unknown-type policy."""
    with container_for(config) as container:
        registry = container.schemas
        versions = registry.versions()
        policy = registry.policy
    console.print(f"unknown types: {policy.unknown_types.value}", highlight=False)
    for rule in policy.sources:
        match = "prefix" if rule.prefix else "exact"
        console.print(f"  source {rule.source} ({match}): {rule.policy.value}", highlight=False)
    if not versions:
        console.print("no schemas registered", highlight=False)
    for stored in versions:
        v = stored.version
        console.print(
            f"{v.type} v{v.version} {v.compatibility.value} {v.uri} "
            f"({stored.source}, {stored.registered_at:%Y-%m-%d %H:%M}Z)",
            highlight=False,
            soft_wrap=True,
        )


@schema_app.command("put")
def schema_put(
    event_type: Annotated[str, typer.Argument(metavar="TYPE", help="The CloudEvents type.")],
    version: Annotated[int, typer.Argument(metavar="N", min=1, max=1000)],
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            exists=True,
            dir_okay=False,
            help="A JSON file: the schema, or {schema, upcast, compatibility}.",
        ),
    ],
    compatibility: Annotated[
        Compatibility | None, typer.Option(help="The type's rule from this version on.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Register version N of TYPE (as PUT /v1/schemas/TYPE/versions/N)."""
    try:
        data = read_exact(file.read_bytes())
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise typer.BadParameter(f"{file}: not JSON") from None
    with container_for(config) as container:
        wrapped = isinstance(data, dict) and "schema" in data
        if wrapped and set(data) - {"schema", "upcast", "compatibility"}:
            raise InvalidField("file", "expected a schema, or {schema, upcast, compatibility}")
        given = data.get("compatibility") if wrapped else None
        declared = Declaration(
            event_type,
            version,
            data["schema"] if wrapped else data,
            upcast_from(data.get("upcast") if wrapped else None),
            compatibility or (Compatibility(given) if given else None),
        )
        outcome = container.schemas.put(declared, cli_actor(), source="cli")
    v = outcome.stored.version
    state = "registered" if outcome.created else "already registered (no change)"
    console.print(f"{v.type} v{v.version} {state}: {v.uri}", highlight=False)

"""``revsync renewals``: the subscriptions renewing soon, each assessed with its reasons."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from revsync.application.renewals import parse_within
from revsync.entrypoints.cli.context import ConfigOption, console, container_for, err_console


def renewals(
    within: Annotated[
        str, typer.Option("--within", help="Days ahead: 90d or 90 (0 to 730).")
    ] = "90d",
    announce: Annotated[
        bool,
        typer.Option(
            "--announce",
            help="Also announce the assessments at a horizon not announced before (as the "
            "worker's renewals job does).",
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """The subscriptions in service renewing within --within days: at risk, healthy or
    expansion, and why."""
    try:
        days = parse_within(within)
    except ValueError as error:
        err_console.print(f"--within: {error}", highlight=False)
        raise typer.Exit(2) from None
    with container_for(config) as container:
        service = container.renewals()
        found = service.upcoming(days)
        announced = service.run() if announce else None
    if not found:
        console.print(f"no subscription renews within {days} days", highlight=False)
    else:
        table = Table("renewal", "days", "customer", "subscription", "verdict", "reasons")
        for a in found:
            table.add_row(
                a.renewal_date.isoformat(),
                str(a.days),
                a.customer_id,
                a.subscription_id,
                a.verdict.value,
                "\n".join(a.reasons),
            )
        console.print(table)
    if announced is not None:
        console.print(f"announced {len(announced.announced)} assessments", highlight=False)

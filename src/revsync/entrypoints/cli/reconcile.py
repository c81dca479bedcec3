"""``revsync reconcile``: compare revsync's books with the usage behind them and with the ERP."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from typing import Annotated

import typer

from revsync.domain.reconciliation import Check
from revsync.entrypoints.cli.context import ConfigOption, console, container_for
from revsync.schemas.reconciliation_v1 import run_out

#: how far back a reconciliation looks when no --since is given
DEFAULT_DAYS = 90


def reconcile(
    config: ConfigOption = None,
    check: Annotated[
        list[Check] | None,
        typer.Option(
            "--check",
            help="What to compare (repeat for several; default: usage, and erp when an ERP "
            "is configured).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help=f"Documents issued on or after this date (default: {DEFAULT_DAYS} days ago)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Re-read the events behind each finalized usage line, and read every invoice and credit
    note back from the ERP: each discrepancy opens an exception case (kind reconciliation), a
    discrepancy no longer found closes its case. Exits 1 when anything differs."""
    with container_for(config) as container:
        start = _since(since, container.clock.now().date())
        run = asyncio.run(container.reconcile(check, start, "cli"))
    if as_json:
        print(json.dumps(run_out(run), indent=2))
    else:
        checked = ", ".join(_count(n, _CHECKED[name]) for name, n in run.checked.items())
        console.print(
            f"reconciliation {run.id} since {run.since}: checked {checked}; "
            f"{_count(len(run.findings), 'discrepancy', 'discrepancies')}, "
            f"{_count(len(run.closed), 'case')} closed",
            highlight=False,
            soft_wrap=True,
        )
        for finding in run.findings:
            console.print(
                f"  {finding.kind.value}: {finding.message}", highlight=False, soft_wrap=True
            )
    if not run.clean:
        raise typer.Exit(1)


#: what each check counts
_CHECKED = {Check.USAGE.value: "usage line", Check.ERP.value: "ERP document"}


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _since(text: str | None, today: date) -> date:
    if text is None:
        return today - timedelta(days=DEFAULT_DAYS)
    try:
        return date.fromisoformat(text)
    except ValueError:
        message = f"not a date (YYYY-MM-DD): {text!r}"
        raise typer.BadParameter(message, param_hint="--since") from None

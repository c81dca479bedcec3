"""``revsync reconcile``: compare revsync's books with the usage behind them and with the ERP."""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer

from revsync.domain.reconciliation import Check, ReconciliationRun
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
            help="What to compare (repeat for several; default: usage, and erp and crm when "
            "they are configured).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help=f"Documents issued on or after this date (default: {DEFAULT_DAYS} days ago)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
    html_path: Annotated[
        Path | None,
        typer.Option("--html", help="Also write the run as a page of HTML to this file."),
    ] = None,
) -> None:
    """Re-read the events behind each finalized usage line, every invoice and credit note from
    the ERP and revsync's account fields from the CRM: each discrepancy opens an exception case
    (kind reconciliation), a discrepancy no longer found closes its case. Exits 1 when anything
    differs."""
    with container_for(config) as container:
        start = _since(since, container.clock.now().date())
        run = asyncio.run(container.reconcile(check, start, "cli"))
    if html_path is not None:
        html_path.write_text(page(run), encoding="utf-8")
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
_CHECKED = {
    Check.USAGE.value: "usage line",
    Check.ERP.value: "ERP document",
    Check.CRM.value: "CRM record",
}


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def page(run: ReconciliationRun) -> str:
    """The run as one self-contained HTML page: what was compared, then each discrepancy with
    both sides' values."""
    e = html.escape
    checked = ", ".join(_count(n, _CHECKED[name]) for name, n in run.checked.items())
    rows = "".join(
        "<tr>"
        f"<td>{e(f.kind.value)}</td><td>{e(f.object_type)} {e(f.object_id)}</td>"
        f"<td>{e(f.message)}</td><td>{_pairs(f.ours)}</td><td>{_pairs(f.theirs)}</td>"
        "</tr>"
        for f in run.findings
    )
    verdict = "clean" if run.clean else _count(len(run.findings), "discrepancy", "discrepancies")
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>revsync reconciliation {e(run.id)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}"
        "</style></head><body>"
        f"<h1>Reconciliation {e(run.id)}: {e(verdict)}</h1>"
        f"<p>Documents issued since {run.since}; checked {e(checked)}; run by {e(run.actor)} "
        f"from {run.started_at.isoformat()} to {run.finished_at.isoformat()}; "
        f"{_count(len(run.opened), 'case')} open, {_count(len(run.closed), 'case')} closed.</p>"
        + (
            "<table><tr><th>kind</th><th>what</th><th>discrepancy</th><th>revsync</th>"
            f"<th>the other side</th></tr>{rows}</table>"
            if rows
            else ""
        )
        + "</body></html>\n"
    )


def _pairs(values: Mapping[str, str]) -> str:
    return "<br>".join(f"{html.escape(k)}: {html.escape(v)}" for k, v in values.items())


def _since(text: str | None, today: date) -> date:
    if text is None:
        return today - timedelta(days=DEFAULT_DAYS)
    try:
        return date.fromisoformat(text)
    except ValueError:
        message = f"not a date (YYYY-MM-DD): {text!r}"
        raise typer.BadParameter(message, param_hint="--since") from None

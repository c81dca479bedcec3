"""``revsync kpis``: the business KPIs, as the API and /metrics report them."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from revsync.entrypoints.cli.context import ConfigOption, console, container_for
from revsync.schemas.kpis_v1 import kpis_out


def kpis(
    config: ConfigOption = None,
    measure: Annotated[
        bool,
        typer.Option(
            "--measure",
            help="Measure unbilled usage and count new events into the lag histogram first "
            "(what the worker's kpis job does on kpis.schedule).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the KPIs as JSON.")] = False,
) -> None:
    """Unbilled usage by age and amount, unmapped tenants, the ERP posting delay, renewals
    without adoption signals, sync completeness, invoice accuracy, replays, event lag, jobs."""
    with container_for(config) as container:
        if measure:
            container.kpis.measure()
        found = kpis_out(container.kpis.read())
    if as_json:
        print(json.dumps(found, indent=2))
        return
    for label, value in _lines(found):
        console.print(f"{label:<28} {value}", highlight=False, soft_wrap=True)


def _lines(found: dict[str, Any]) -> list[tuple[str, str]]:
    unbilled = found["unbilled_usage"]
    lag = found["event_lag"]
    lines = [
        (
            "unbilled usage events",
            "not measured yet (revsync kpis --measure)"
            if unbilled["events"] is None
            else ", ".join(f"{n} {age}" for age, n in unbilled["events"].items())
            + f" (measured {unbilled['measured_at']})",
        ),
        (
            "unbilled usage amount",
            "-"
            if unbilled["amount"] is None
            else ", ".join(f"{a} {c}" for c, a in unbilled["amount"].items()) or "nothing",
        ),
        ("unmapped tenants", str(found["unmapped_tenants"])),
        ("ERP posting delay", _or_none(found["erp_posting_delay_seconds"], "s", "no ERP")),
        ("renewals missing adoption", _or_none(found["renewals_missing_adoption"], "", "no CRM")),
        (
            "sync completeness",
            ", ".join(f"{c} {r:.3f}" for c, r in found["sync_completeness"].items()) or "-",
        ),
        ("invoice accuracy", _or_none(found["invoice_accuracy_ratio"], "", "not reconciled")),
        ("replays", ", ".join(f"{n} {kind}" for kind, n in found["replays"].items())),
        (
            "event lag",
            f"{lag['count']} events, mean "
            f"{lag['sum_seconds'] / lag['count'] if lag['count'] else 0:.1f} s",
        ),
    ]
    for job in found["jobs"]:
        lines.append(
            (
                f"job {job['name']}",
                f"last success {job['last_success_at'] or 'never'}; "
                f"{job['ok']} ok, {job['failed']} failed",
            )
        )
    return lines


def _or_none(value: float | None, unit: str, missing: str) -> str:
    return missing if value is None else f"{value:g}{unit}"

"""``revsync prune``: retention when asked — what the worker's ``retention`` job does on
``retention.schedule``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from revsync.entrypoints.cli.context import ConfigOption, console, container_for


def prune(
    config: ConfigOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be pruned; delete nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Delete the finished outbox messages (with their attempts), dead letters and idempotency
    keys past their age (retention.*, server.idempotency_hours), a batch per transaction; what
    a case, reconciliation or a later announcement still needs is kept."""
    with container_for(config) as container:
        report = container.retention.prune(dry_run=dry_run)
    pruned, cutoffs = report.pruned, report.cutoffs
    counts = {
        "messages": pruned.messages,
        "attempts": pruned.attempts,
        "dead_letters": pruned.dead_letters,
        "idempotency_keys": pruned.idempotency_keys,
    }
    if as_json:
        before = {
            "messages": cutoffs.messages_before,
            "dead_letters": cutoffs.dead_letters_before,
            "idempotency_keys": cutoffs.keys_before,
        }
        answer = {
            "dry_run": dry_run,
            "pruned": counts,
            "batches": report.batches,
            "before": {k: None if v is None else v.isoformat() for k, v in before.items()},
            "documents_since": cutoffs.documents_since.isoformat(),
        }
        print(json.dumps(answer, indent=2))
        return
    verb = "would prune" if dry_run else "pruned"
    listed = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in counts.items())
    batches = "" if dry_run else f" in {report.batches} batches"
    console.print(f"{verb} {listed}{batches}", highlight=False, soft_wrap=True)

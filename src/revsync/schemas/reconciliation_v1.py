"""Reconciliation runs on the wire (version 1): the API's answers and ``revsync reconcile
--json``."""

from __future__ import annotations

from typing import Any

from revsync.domain.reconciliation import Finding, ReconciliationRun, summary


def run_out(run: ReconciliationRun) -> dict[str, Any]:
    """A run with its findings."""
    return {
        "id": run.id,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat(),
        "since": run.since.isoformat(),
        "actor": run.actor,
        "checks": [c.value for c in run.checks],
        "checked": dict(run.checked),
        "clean": run.clean,
        "counts": summary(run.findings),
        "findings": [finding_out(f) for f in run.findings],
        "cases_opened": list(run.opened),
        "cases_closed": list(run.closed),
    }


def finding_out(finding: Finding) -> dict[str, Any]:
    """One discrepancy with both sides' values."""
    return {
        "key": finding.key,
        "kind": finding.kind.value,
        "object_type": finding.object_type,
        "object_id": finding.object_id,
        "message": finding.message,
        "ours": dict(finding.ours),
        "theirs": dict(finding.theirs),
    }

"""``revsync prune``: a dry run counts, a run deletes, both say what (or as JSON)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from revsync.bootstrap import build
from revsync.config import load_settings
from revsync.domain.problems import Code
from revsync.entrypoints.cli.main import app
from revsync.ports.repositories import DeadLetter
from tests.conftest import NOW
from tests.support.clock import FrozenCliRunner, FrozenClock

runner = FrozenCliRunner(FrozenClock(NOW))


def test_prune_counts_dry_then_deletes(config: Path) -> None:
    container = build(load_settings(config), clock=runner.clock)
    try:
        old = NOW - timedelta(days=181)  # past retention.dead_letter_days (180)
        container.dead_letters.record(
            [DeadLetter(old, "api", Code.INVALID_EVENT, "refused", "{}") for _ in range(3)]
        )
    finally:
        container.close()
    dry = runner.invoke(app, ["prune", "--dry-run", "--config", str(config)])
    assert dry.exit_code == 0, dry.output
    assert dry.output.strip() == (
        "would prune 0 messages, 0 attempts, 3 dead letters, 0 idempotency keys"
    )
    done = runner.invoke(app, ["prune", "--json", "--config", str(config)])
    assert done.exit_code == 0, done.output
    answer = json.loads(done.output)
    assert answer["pruned"] == {
        "messages": 0,
        "attempts": 0,
        "dead_letters": 3,
        "idempotency_keys": 0,
    }
    assert (answer["dry_run"], answer["batches"]) == (False, 3)
    assert answer["before"] == {
        "messages": (NOW - timedelta(days=400)).isoformat(),
        "dead_letters": (NOW - timedelta(days=180)).isoformat(),
        "idempotency_keys": (NOW - timedelta(hours=24)).isoformat(),
    }
    assert answer["documents_since"] == (NOW - timedelta(days=90)).date().isoformat()
    again = runner.invoke(app, ["prune", "--config", str(config)])
    assert again.exit_code == 0, again.output
    assert again.output.strip() == (
        "pruned 0 messages, 0 attempts, 0 dead letters, 0 idempotency keys in 3 batches"
    )

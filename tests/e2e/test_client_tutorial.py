"""docs/client.md as a reader runs it: its configuration, its shell commands (all but
``revsync serve``, which the test starts on a free port) and then its Python blocks, in order,
in one namespace, with the generated client (clients/python, on pytest's path) against a real
``revsync serve`` on a new SQLite database. The outcomes the page shows are checked here, down
to the invoice's exact totals.

The server reads the real clock, and so does the page (it bills last month): nothing here names
a date.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from revsync_client import Client
from revsync_client.api.customers import get_customer
from revsync_client.models import Error

from tests.support.server import Server, clean_env

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "client.md"


def tutorial(kind: str) -> list[str]:
    """The tutorial's code blocks of one kind (``yaml``, ``sh``, ``python``), in order."""
    text = PAGE.read_text()
    section = text[text.index("## A tutorial") :]
    return re.findall(rf"```{kind}\n(.*?)```", section, re.S)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """The page's configuration and set-up commands in an empty folder, then the server (started
    while the key is made: each is a process start of a few seconds)."""
    (config,) = tutorial("yaml")
    (tmp_path / "revsync.yaml").write_text(config)
    (commands,) = tutorial("sh")
    upgrade, create_key, serve = commands.strip().splitlines()
    assert serve.startswith("revsync serve --config revsync.yaml "), serve
    env = {**clean_env(), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def shell(line: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            ["bash", "-c", f"set -euo pipefail\n{line}"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )

    def finish(step: subprocess.Popen[str]) -> None:
        output, _ = step.communicate(timeout=120)
        assert step.returncode == 0, output

    finish(shell(upgrade))
    key = shell(create_key)
    running = Server(tmp_path / "revsync.yaml", tmp_path)
    try:
        running.start()
        finish(key)
        assert (tmp_path / "tutorial.key").read_text().startswith("rsk_")
        yield running
    finally:
        if key.poll() is None:
            key.kill()
            key.wait()
        running.stop_all()


def test_the_client_tutorial_runs_and_bills_what_it_shows(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(server.directory)
    monkeypatch.setenv("REVSYNC_URL", server.url)
    today = datetime.now(UTC).date()
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)

    namespace: dict[str, Any] = {}
    printed = io.StringIO()
    blocks = tutorial("python")
    assert len(blocks) >= 7
    with contextlib.redirect_stdout(printed):
        for number, block in enumerate(blocks, start=1):
            exec(compile(block, f"docs/client.md, python block {number}", "exec"), namespace)
    out = printed.getvalue()
    ns = namespace

    assert ns["answer"].status_code == 201 and ns["answer"].parsed.version == 1
    assert ns["subscription"].anchor == last_month
    # the same batch twice: stored once
    assert (ns["first"].accepted, ns["first"].duplicates, ns["first"].rejected) == (3, 0, [])
    assert (ns["second"].accepted, ns["second"].duplicates) == (0, 3)
    assert "3 0 then 0 3" in out
    # one run, one invoice: last month, in arrears
    assert ns["run"].errors == [] and len(ns["run"].created) == 1
    assert [item.id for item in ns["page"].items] == ns["run"].created
    invoice = ns["invoice"]
    assert (invoice.kind, invoice.customer_id, invoice.currency) == ("arrears", "acme", "EUR")
    assert (invoice.period.start, invoice.period.end) == (last_month, this_month)
    lines = {(line.kind, line.quantity, line.unit_amount, line.amount) for line in invoice.lines}
    assert lines == {("recurring", "1", "20.00", "20.00"), ("usage", "3", "0.10", "0.30")}
    totals = invoice.totals
    assert (totals.subtotal, totals.discount, totals.tax) == ("20.30", "0.00", "0.00")
    assert (totals.total, totals.amount_due) == ("20.30", "20.30")
    assert "total 20.30 EUR" in out
    assert all(isinstance(line.amount, str) for line in invoice.lines)  # never a float
    assert str(ns["total"]) == "20.30"
    assert sorted(event.id for event in ns["counted"].items) == ["rep-1", "rep-2", "rep-3"]
    # failures are typed
    assert ns["missing"].error.code == "not_found"
    assert ns["missing"].error.request_id
    assert ns["too_late"].status_code == 422
    assert ns["too_late"].parsed.error.field == "as_of"
    # the key is what lets the client in: without it, the typed 401
    anonymous = Client(base_url=server.url, raise_on_unexpected_status=True)
    refused = get_customer.sync_detailed("acme", client=anonymous)
    assert refused.status_code == 401
    assert isinstance(refused.parsed, Error) and refused.parsed.error.code == "unauthorized"

"""``revsync crm sync`` pulls accounts and contracts from the CRM and queues the signals that
changed; a missing client secret is a configuration error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from revsync.entrypoints.cli.main import app
from revsync.sandbox.crm import CrmSandbox

runner = CliRunner()


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[CrmSandbox]:
    with CrmSandbox(tmp_path / "crm", seed=6) as running:
        yield running


@pytest.fixture
def config(tmp_path: Path, sandbox: CrmSandbox) -> Path:
    path = tmp_path / "revsync.yaml"
    plans = [
        {
            "code": code,
            "name": code.title(),
            "currency": "EUR",
            "interval": "month",
            "charges": [{"key": "base", "model": "flat", "description": "Base", "amount": "10"}],
        }
        for code in ("starter", "growth", "enterprise")
    ]
    settings = {
        "database": {"url": f"sqlite:///{tmp_path / 'revsync.db'}"},
        "plans": plans,
        "crm": {
            "url": sandbox.url,
            "ca_file": str(sandbox.cert_path),
            "client_secret_env": "REVSYNC_CLI_CRM_SECRET",
        },
        "outbox": {"allow_private_hosts": ["127.0.0.1"]},
    }
    path.write_text(yaml.safe_dump(settings))
    assert runner.invoke(app, ["db", "upgrade", "--config", str(path)]).exit_code == 0
    return path


def test_crm_sync_pulls_the_seeded_accounts_and_queues_their_signals(
    config: Path, sandbox: CrmSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVSYNC_CLI_CRM_SECRET", sandbox.credentials.client_secret)
    accounts = sandbox.records("Account")
    contracts = sandbox.records("Contract")
    synced = runner.invoke(app, ["crm", "sync", "--config", str(config)])
    assert synced.exit_code == 0, synced.output
    assert (
        f"{len(accounts)} customers created, 0 changed, {len(contracts)} subscriptions created, 0 amendments, "
        "0 refused"
    ) in synced.output
    assert f"assessed {len(accounts)} customers: {len(accounts)} with changed signals" in (
        synced.output
    )
    again = runner.invoke(app, ["crm", "sync", "--config", str(config)])
    # read again within the overlap, changing nothing
    assert "0 customers created, 0 changed, 0 subscriptions created, 0 amendments" in again.output
    assert f"assessed {len(accounts)} customers: 0 with changed signals" in again.output


def test_a_missing_client_secret_is_a_configuration_error(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REVSYNC_CLI_CRM_SECRET", raising=False)
    failed = runner.invoke(app, ["crm", "sync", "--config", str(config)])
    assert failed.exit_code == 2
    assert "crm.client_secret_env: REVSYNC_CLI_CRM_SECRET is not set" in failed.output

"""``revsync erp provision`` sets a blank Tryton database up and is idempotent; ``revsync erp
sync`` reports what it checked; a missing password is a configuration error."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from revsync.entrypoints.cli.main import app
from tests.support import tryton

runner = CliRunner()


@pytest.fixture
def blank_tryton(tmp_path: Path) -> Iterator[tryton.TrytonServer]:
    tryton.require_tryton()
    server = tryton.TrytonServer(tmp_path / "blank", tryton.tryton_template())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def config(tmp_path: Path, blank_tryton: tryton.TrytonServer) -> Path:
    path = tmp_path / "revsync.yaml"
    settings = {
        "database": {"url": f"sqlite:///{tmp_path / 'revsync.db'}"},
        "tax": {"rates": {"FR": {"standard": "20"}}},
        "erp": {
            "url": blank_tryton.url,
            "database": blank_tryton.database,
            "password_env": "REVSYNC_CLI_ERP_PASSWORD",
            "company": "Acme Holding",
            "fiscal_years": [date.today().year],
            "posting_rules": [{"product": "SAAS", "account": "4.1.2"}],
        },
        "outbox": {"allow_private_hosts": ["127.0.0.1"]},
    }
    path.write_text(yaml.safe_dump(settings))
    assert runner.invoke(app, ["db", "upgrade", "--config", str(path)]).exit_code == 0
    return path


def test_provision_creates_what_revsync_needs_once(
    config: Path, blank_tryton: tryton.TrytonServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVSYNC_CLI_ERP_PASSWORD", tryton.ADMIN_PASSWORD)
    first = runner.invoke(app, ["erp", "provision", "--config", str(config)])
    assert first.exit_code == 0, first.output
    for created in (
        "created company Acme Holding",
        "created chart of accounts (Universal Chart of Accounts)",
        f"created fiscal year {date.today().year} with monthly periods",
        "created tax FR standard 20%",
        "created product SAAS",
        "created payment term revsync 30 days",
    ):
        assert created in first.output
    again = runner.invoke(app, ["erp", "provision", "--config", str(config)])
    assert again.exit_code == 0
    assert "the ERP already had everything revsync needs" in again.output
    companies = tryton.rpc(
        blank_tryton.url,
        blank_tryton.database,
        "model.company.company.search_read",
        [[], 0, None, None, ["rec_name"], {}],
        session=tryton.login(blank_tryton.url, blank_tryton.database),
    )
    assert [c["rec_name"] for c in companies] == ["Acme Holding"]
    synced = runner.invoke(app, ["erp", "sync", "--config", str(config)])
    assert synced.exit_code == 0, synced.output
    assert (
        "checked 0 invoices: 0 paid, 0 newly overdue, 0 dunnings raised, 0 settled by credit "
        "notes; 0 deferrals started"
    ) in synced.output
    periods = runner.invoke(app, ["erp", "periods", "--config", str(config)])
    assert periods.exit_code == 0, periods.output
    month = date.today().strftime("%Y-%m")
    assert [line.split()[-1] for line in periods.output.splitlines() if line.startswith(month)] == [
        "open"
    ]
    # a wrong password: one line naming the ERP and its refusal, no traceback
    monkeypatch.setenv("REVSYNC_CLI_ERP_PASSWORD", "not-the-password")
    refused = runner.invoke(app, ["erp", "sync", "--config", str(config)])
    assert refused.exit_code == 1, refused.output
    [line] = refused.output.strip().splitlines()
    assert line.startswith(f"error: the ERP at {blank_tryton.url} refused: ")
    assert "not-the-password" not in refused.output


def test_a_missing_erp_password_is_a_configuration_error(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REVSYNC_CLI_ERP_PASSWORD", raising=False)
    result = runner.invoke(app, ["erp", "provision", "--config", str(config)])
    assert result.exit_code == 2
    assert "erp.password_env: REVSYNC_CLI_ERP_PASSWORD is not set" in result.output


@pytest.mark.parametrize("command", [["erp", "sync"], ["erp", "provision"]])
def test_an_unreachable_erp_is_one_line_and_exit_69(
    config: Path,
    blank_tryton: tryton.TrytonServer,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    monkeypatch.setenv("REVSYNC_CLI_ERP_PASSWORD", tryton.ADMIN_PASSWORD)
    blank_tryton.stop()  # the ERP is down
    result = runner.invoke(app, [*command, "--config", str(config)])
    assert result.exit_code == 69, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"error: cannot reach the ERP at {blank_tryton.url}")

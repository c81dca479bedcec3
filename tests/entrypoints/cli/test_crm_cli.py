"""``revsync crm sync`` when the CRM refuses revsync's credentials (one line, exit 1) and when
it cannot be reached (one line naming it, exit 69) — never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from revsync.entrypoints.cli.main import app
from revsync.sandbox.crm import CrmSandbox

runner = CliRunner()


def test_a_refusing_or_unreachable_crm_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with CrmSandbox(tmp_path / "crm") as sandbox:
        config = tmp_path / "revsync.yaml"
        settings = {
            "database": {"url": f"sqlite:///{tmp_path / 'revsync.db'}"},
            "crm": {
                "url": sandbox.url,
                "ca_file": str(sandbox.cert_path),
                "client_secret_env": "REVSYNC_CLI_CRM_SECRET",
            },
            "outbox": {"allow_private_hosts": ["127.0.0.1"]},
        }
        config.write_text(yaml.safe_dump(settings))
        assert runner.invoke(app, ["db", "upgrade", "--config", str(config)]).exit_code == 0
        monkeypatch.setenv("REVSYNC_CLI_CRM_SECRET", "not-the-secret")
        refused = runner.invoke(app, ["crm", "sync", "--config", str(config)])
        assert refused.exit_code == 1, refused.output
        [line] = refused.output.strip().splitlines()
        assert line.startswith(f"error: the CRM at {sandbox.url} refused: "), line
        assert "not-the-secret" not in refused.output
        url = sandbox.url
    down = runner.invoke(app, ["crm", "sync", "--config", str(config)])  # the sandbox stopped
    assert down.exit_code == 69, down.output
    [line] = down.output.strip().splitlines()
    assert line.startswith(f"error: cannot reach the CRM at {url}: "), line

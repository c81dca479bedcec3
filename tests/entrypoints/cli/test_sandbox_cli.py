"""``revsync sandbox crm``: the CRM sandbox as a process, queried over HTTPS by simple-salesforce."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from simple_salesforce import Salesforce
from typer.testing import CliRunner

from revsync.entrypoints.cli.main import app

CLI = "from revsync.entrypoints.cli.main import main; main()"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_until_listening(process: subprocess.Popen[str], deadline: float) -> list[str]:
    lines: list[str] = []
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith("press Ctrl-C"):
            return lines
    raise AssertionError(f"the sandbox did not announce itself: {lines}")


def test_the_help_lists_the_crm_sandbox() -> None:
    result = CliRunner().invoke(app, ["sandbox", "--help"])
    assert result.exit_code == 0
    assert "crm" in result.output


def test_revsync_sandbox_crm_serves_until_stopped(tmp_path: Path) -> None:
    port = free_port()
    folder = tmp_path / "crm"
    command = [sys.executable, "-c", CLI, "sandbox", "crm", "--dir", str(folder)]
    command += ["--port", str(port), "--seed", "5"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )
    try:
        lines = read_until_listening(process, time.monotonic() + 20)
        output = "\n".join(lines)
        url = f"https://127.0.0.1:{port}"
        assert f"listening on {url}" in output
        assert str(folder / "cert.pem") in output
        assert "admin@revsync.test" in output
        credentials = json.loads((folder / "credentials.json").read_text())
        assert credentials["client_secret"] not in output
        assert re.search(r"client secret.*credentials\.json", output)

        session = requests.Session()
        session.verify = str(folder / "cert.pem")
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        token = session.post(
            f"{url}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": credentials["client_id"],
                "client_secret": credentials["client_secret"],
            },
        ).json()["access_token"]
        sf = Salesforce(instance_url=url, session_id=token, session=session)
        accounts = sf.query_all("SELECT Name, Revsync_Customer_Id__c FROM Account ORDER BY Id")
        assert [r["Revsync_Customer_Id__c"] for r in accounts["records"]] == [
            f"cust-{n:04d}" for n in range(1, 6)
        ]
    finally:
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=15)
    assert process.returncode == 0, errors

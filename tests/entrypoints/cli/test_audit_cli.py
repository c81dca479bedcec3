"""``revsync audit anchor`` and ``revsync audit verify --anchor``: exit 0 when the chain
holds, otherwise one line naming the entry and the reason (1: tampered; 2: not checkable)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from revsync.entrypoints.cli.main import app
from tests.conftest import NOW
from tests.support.clock import FrozenCliRunner, FrozenClock

runner = FrozenCliRunner(FrozenClock(NOW))
KEY = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REVSYNC_AUDIT_KEY", KEY)
    path = tmp_path / "revsync.yaml"
    assert runner.invoke(app, ["init", str(path)]).exit_code == 0
    for port in (8081, 8082, 8083, 8084, 8085):  # one configuration.changed entry each
        path.write_text(path.read_text().replace(f"port: {port - 1}", f"port: {port}"))
        result = runner.invoke(app, ["db", "upgrade", "--config", str(path)])
        assert result.exit_code == 0, result.output
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["audit", *args])
    return result.exit_code, result.output


def test_anchor_prints_the_head_and_verify_finds_it(config: Path, tmp_path: Path) -> None:
    code, output = invoke("anchor", "--config", str(config))
    assert code == 0
    anchor = json.loads(output)
    assert anchor["seq"] == 5 and anchor["alg"] == "hmac-sha256-jcs"
    assert anchor["at"] == "2026-11-15T12:00:00.000000Z" and len(anchor["hash"]) == 64
    kept = tmp_path / "anchors.jsonl"
    kept.write_text(output)
    code, output = invoke("verify", "--config", str(config), "--anchor", str(kept))
    assert code == 0
    assert output == (
        "audit log intact: 5 entries verified (5 hmac-sha256-jcs); 1 anchor(s) found\n"
    )


def test_truncation_below_an_anchor_fails_with_one_line(config: Path) -> None:
    _, anchor = invoke("anchor", "--config", str(config))
    db = sqlite3.connect(config.parent / "revsync.db")
    with db:  # the last two entries go, and the head row is rolled back to match
        db.execute("DELETE FROM audit_log WHERE seq > 3")
        db.execute(
            "UPDATE audit_head SET (seq, hash) = (SELECT seq, hash FROM audit_log WHERE seq = 3)"
        )
    code, output = invoke("verify", "--config", str(config))
    assert code == 0, output  # nothing inside the database tells
    code, output = invoke("verify", "--config", str(config), "--anchor", anchor.strip())
    assert code == 1
    assert output == (
        "audit log broken at entry 5: entry 5 is missing (the anchored entry) and the chain "
        "ends at entry 3: entries were removed from its end; 3 entries before it verified\n"
    )


def test_keyed_entries_without_the_key_cannot_be_verified(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REVSYNC_AUDIT_KEY")
    code, output = invoke("verify", "--config", str(config))
    assert code == 2
    assert output.startswith("audit log cannot be verified at entry 1 (configuration.changed")
    assert "it is keyed and REVSYNC_AUDIT_KEY is not set" in output
    assert KEY not in output


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ('{"seq": 1}', "anchor line 1: hash must be 64 lowercase hexadecimal digits"),
        ("no-such-file.jsonl", "No such file or directory"),
    ],
)
def test_an_unreadable_anchor_exits_2(config: Path, given: str, reason: str) -> None:
    code, output = invoke("verify", "--config", str(config), "--anchor", given)
    assert code == 2
    assert output.startswith("cannot read the anchor: ") and reason in output


def test_a_short_key_or_a_missing_one_on_a_keyed_chain_stops_the_command(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVSYNC_AUDIT_KEY", "far-too-short")
    code, output = invoke("verify", "--config", str(config))
    assert (code, output) == (
        2,
        "configuration error: audit.key_env: REVSYNC_AUDIT_KEY must hold at least 32 bytes\n",
    )
    monkeypatch.delenv("REVSYNC_AUDIT_KEY")
    result = runner.invoke(app, ["db", "upgrade", "--config", str(config)])
    assert result.exit_code == 2
    assert result.output == (
        "configuration error: audit.key_env: the audit chain is keyed (entry 5 is) and "
        "REVSYNC_AUDIT_KEY is not set\n"
    )

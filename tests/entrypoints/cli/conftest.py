"""The CLI tests' shared fixture: a configuration written by ``revsync init``, its database
migrated by ``revsync db upgrade``."""

from __future__ import annotations

from pathlib import Path

import pytest

from revsync.entrypoints.cli.main import app
from tests.conftest import NOW
from tests.support.clock import FrozenCliRunner, FrozenClock


@pytest.fixture
def config(tmp_path: Path) -> Path:
    runner = FrozenCliRunner(FrozenClock(NOW))
    path = tmp_path / "revsync.yaml"
    assert runner.invoke(app, ["init", str(path)]).exit_code == 0
    result = runner.invoke(app, ["db", "upgrade", "--config", str(path)])
    assert result.exit_code == 0, result.output
    return path

"""``revsync worker`` in a process of its own, as the crash tests run it: until a failpoint
kills it, or until the test's condition holds (then stopped with SIGTERM, as an operator
would)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def run_worker(
    config: Path,
    failpoints: str | None,
    done: Callable[[], bool] | None,
    *,
    deadline_seconds: float = 120,
) -> int:
    """Run the worker with ``config`` (and ``REVSYNC_FAILPOINTS``); stop it once ``done()``
    (None: wait for it to end, e.g. killed by a failpoint). Returns its exit status; fails on a
    traceback in its stderr or past the deadline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVSYNC_")}
    if failpoints:
        env["REVSYNC_FAILPOINTS"] = failpoints
    process = subprocess.Popen(
        [sys.executable, "-m", "revsync", "worker", "--config", str(config)],
        env=env,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + deadline_seconds
    try:
        while process.poll() is None:
            assert time.monotonic() < deadline, "the worker ran too long"
            if done is not None and done():
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
                break
            time.sleep(0.1)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stderr is not None
    errors = process.stderr.read().decode(errors="replace")
    assert "Traceback" not in errors, errors[-3000:]
    return process.returncode

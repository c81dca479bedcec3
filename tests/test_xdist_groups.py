"""Tests that share a costly module fixture run on one worker (``--dist loadgroup``): the
scheduler must honour their group, or the demo runs twice at once on the same ports."""

from __future__ import annotations

import os
import time

import pytest

pytestmark = pytest.mark.xdist_group("xdist-check")


@pytest.mark.parametrize("n", [1, 2, 3])
def test_the_tests_of_a_group_run_on_one_worker(
    tmp_path_factory: pytest.TempPathFactory, n: int
) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        return  # one process: nothing to check
    shared = tmp_path_factory.getbasetemp().parent / "xdist-check"  # common to all workers
    shared.mkdir(exist_ok=True)
    (shared / str(n)).write_text(worker)
    time.sleep(1)  # tests spread over workers would overlap here
    seen = {path.read_text() for path in shared.iterdir()}
    assert seen == {worker}, f"one group ran on {sorted(seen)}"

"""The wheel holds everything a server needs: built from this checkout, installed in a fresh
virtual environment (the pinned versions, with uv), it runs ``init``, ``db upgrade`` and ``serve``, and
answers a request. Installed alone it is lean — no ERP, no PostgreSQL driver — and the
commands that need an extra say which."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.server import clean_env, free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.xdist_group("wheel")


def run(*command: str | Path, cwd: Path, status: int = 0) -> str:
    done = subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=clean_env(),
    )
    assert done.returncode == status, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout if status == 0 else done.stderr


def test_a_wheel_installed_alone_serves(tmp_path: Path) -> None:
    # built from a copy of the sources alone: a build folder left in the checkout by an
    # earlier build must not lend the wheel files its own sources lack
    source = tmp_path / "source"
    leftovers = shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".venv", "revsync-demo", ".*cache"
    )
    shutil.copytree(ROOT, source, ignore=leftovers)
    # uv builds and installs (what pip does, in a fraction of the time: its resolver is
    # scripts/lock's, and it neither compiles bytecode nor installs one package at a time)
    uv = (sys.executable, "-m", "uv")
    wheels = tmp_path / "wheels"
    run(*uv, "build", "--wheel", "--quiet", "--out-dir", wheels, source, cwd=tmp_path)
    (wheel,) = wheels.glob("revsync-*.whl")
    venv = tmp_path / "venv"
    run(*uv, "venv", "--quiet", "--python", sys.executable, venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    pins = ("-c", ROOT / "constraints.txt")
    run(*uv, "pip", "install", "--quiet", "--python", python, *pins, wheel, cwd=tmp_path)
    revsync = venv / "bin" / "revsync"
    assert run(revsync, "--version", cwd=tmp_path).startswith("revsync ")
    installed = run(*uv, "pip", "list", "--python", python, "--format=freeze", cwd=tmp_path)
    installed = installed.lower()
    for extra in ("trytond", "psycopg"):
        assert f"\n{extra}==" not in f"\n{installed}", f"{extra} is installed without its extra"
    refused = " ".join(run(revsync, "demo", cwd=tmp_path, status=69).split())
    assert "revsync demo needs revsync's demo extra" in refused
    assert "python3 -m pip install 'revsync[demo]'" in refused
    (tmp_path / "pg.yaml").write_text("database:\n  url: postgresql://127.0.0.1/revsync\n")
    refused = " ".join(
        run(revsync, "db", "upgrade", "--config", "pg.yaml", cwd=tmp_path, status=2).split()
    )
    assert "database.url: PostgreSQL needs revsync's postgres extra" in refused
    work = tmp_path / "work"
    work.mkdir()
    run(revsync, "init", "revsync.yaml", cwd=work)
    run(revsync, "db", "upgrade", "--config", "revsync.yaml", cwd=work)
    port = free_port()
    server = subprocess.Popen(
        [revsync, "serve", "--config", "revsync.yaml", "--port", str(port)],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "revsync serve did not answer"
                time.sleep(0.2)
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready"
    finally:
        server.terminate()
        server.wait(30)

"""``revsync serve`` in its own process, for end-to-end tests: started, killed, started again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

STARTUP_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def clean_env() -> dict[str, str]:
    """The environment without REVSYNC_* variables, so that only the config file counts."""
    return {k: v for k, v in os.environ.items() if not k.startswith("REVSYNC_")}


@dataclass
class Server:
    """``revsync serve`` on one database; it can be killed and started again."""

    config: Path
    directory: Path
    key: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    url: str = ""
    workers: int = 1
    serve_args: tuple[str, ...] = ()
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "revsync", *args, "--config", str(self.config)]

    def cli(self, *args: str) -> str:
        command = self.command(*args)
        try:
            done = subprocess.run(
                command,
                check=True,
                capture_output=True,
                text=True,
                timeout=60,
                cwd=self.directory,
                env=clean_env(),
            )
        except subprocess.CalledProcessError as error:
            pytest.fail(f"{' '.join(args)} failed ({error.returncode}):\n{error.stderr}")
        return done.stdout

    def log_tail(self) -> str:
        logs = sorted(self.directory.glob("serve-*.log"))
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in logs)

    def start(self) -> None:
        port = free_port()
        log = (self.directory / f"serve-{len(self.started)}.log").open("wb")
        self.process = subprocess.Popen(
            [
                *self.command("serve"),
                "--port",
                str(port),
                "--workers",
                str(self.workers),
                *self.serve_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.directory,
            env=clean_env(),
        )
        log.close()
        self.started.append(self.process)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"revsync serve exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1, trust_env=False).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        pytest.fail(
            f"revsync serve did not answer /healthz in {STARTUP_SECONDS} s:\n{self.log_tail()}"
        )

    def kill(self) -> int:
        """SIGKILL the running server; return its exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        return self.process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)

    def client(self) -> httpx.Client:
        # trust_env=False: a proxy from the environment must not stand between test and server
        return httpx.Client(base_url=self.url, headers=self.key, timeout=30, trust_env=False)

"""Serving a sandbox over HTTPS on loopback, as the CRM and the support sandbox are served.

``HttpsSandbox`` is their common lifecycle: a certificate and ``credentials.json`` written into
the sandbox's folder, its records opened, a socket bound (so that the app knows its URL), uvicorn
run on it from a background thread, with ``with`` or ``start()``/``stop()``.
``serve_until_signalled`` serves one until SIGINT or SIGTERM; ``process_arguments`` and
``serve_process`` are the ``python -m revsync.sandbox.…`` side of that.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import ClassVar, Protocol, Self, TypeVar

import uvicorn
from starlette.types import ASGIApp

from revsync.sandbox.tls import CertificateFiles, make_certificate

#: seconds uvicorn may take to start listening, and to stop
START_TIMEOUT = 15.0
_CREDENTIALS_NAME = "credentials.json"


class _Credentials(Protocol):
    def as_json(self) -> dict[str, str]: ...


class HttpsSandbox(ABC):
    """A sandbox served over HTTPS by uvicorn from a background thread, its data in the folder
    ``path`` (with the certificate and ``credentials.json``), listening on ``host`` and ``port``
    (0: any free port). Start with ``with`` or ``start()``/``stop()``.

    A subclass names itself (``label``), holds its ``credentials``, opens its records
    (``_open``), builds its app once the port is bound (``_app``), and closes both (``_close``).
    """

    #: what the sandbox is called in its certificate and in messages, e.g. "CRM sandbox"
    label: ClassVar[str]
    credentials: _Credentials

    def __init__(self, path: Path, host: str, port: int) -> None:
        self.path = Path(path)
        self.host = host
        self._port = port
        self._server: _ServerThread | None = None
        self._bound_port: int | None = None

    @abstractmethod
    def _open(self) -> None:
        """Open (and prepare) the records; ``_close`` undoes it, also when it failed halfway."""

    @abstractmethod
    def _app(self) -> ASGIApp:
        """The ASGI app over the records opened (``url`` is known by now)."""

    @abstractmethod
    def _close(self) -> None:
        """Close what ``_open`` and ``_app`` made; idempotent."""

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        """Write the certificate, open (and seed) the store, and serve; returns once listening."""
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        self.path.mkdir(parents=True, exist_ok=True)
        certificate = make_certificate(self.path, self.host, f"revsync {self.label}")
        self._write_credentials()
        try:
            self._open()
            sock = self._bind()
            app = self._app()
        except BaseException:
            self._close()
            raise
        server = _ServerThread(app, certificate, sock, name=type(self).__name__)
        self._server = server
        if not server.start():
            self.stop()
            sock.close()
            raise RuntimeError(f"the {self.label} did not start listening in time")
        return self

    def stop(self) -> None:
        """Stop serving (and whatever else the sandbox runs) and close the store; idempotent."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        self._close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._port))
        except OSError:
            sock.close()
            raise
        self._bound_port = int(sock.getsockname()[1])
        return sock

    def _write_credentials(self) -> None:
        descriptor = os.open(self.credentials_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(self.credentials.as_json(), handle, indent=2)

    # -- addresses -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port listened on."""
        if self._bound_port is None:
            raise RuntimeError(f"{type(self).__name__} not started")
        return self._bound_port

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    @property
    def cert_path(self) -> Path:
        """The certificate to verify the sandbox with (``session.verify = str(cert_path)``)."""
        return self.path / "cert.pem"

    @property
    def credentials_path(self) -> Path:
        """``credentials.json`` (mode 0600): ``credentials``, secrets included."""
        return self.path / _CREDENTIALS_NAME


class _ServerThread:
    """uvicorn serving ``app`` over HTTPS on the bound ``sock`` from a daemon thread."""

    def __init__(
        self, app: ASGIApp, certificate: CertificateFiles, sock: socket.socket, *, name: str
    ) -> None:
        config = uvicorn.Config(
            app,
            ssl_certfile=str(certificate.cert_path),
            ssl_keyfile=str(certificate.key_path),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=name, daemon=True
        )

    def start(self) -> bool:
        """Start serving; whether uvicorn is listening within ``START_TIMEOUT``."""
        server, thread = self._server, self._thread
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        return server.started

    def stop(self) -> None:
        """Make uvicorn exit and wait for the thread (``START_TIMEOUT`` at most)."""
        # open keep-alive TLS connections are not waited for
        self._server.should_exit = self._server.force_exit = True
        if self._thread.ident is not None:
            self._thread.join(START_TIMEOUT)


SandboxT = TypeVar("SandboxT", bound=HttpsSandbox)


def serve_until_signalled(sandbox: SandboxT, announce: Callable[[SandboxT], None]) -> None:
    """Start ``sandbox``, call ``announce``, and serve until SIGINT or SIGTERM."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with sandbox:
            announce(sandbox)
            stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def process_arguments(module: str, description: str, *, port: int) -> argparse.ArgumentParser:
    """The parser of ``python -m {module}``, with the options every sandbox takes: ``--dir``,
    ``--host`` and ``--port`` (``port`` by default)."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--dir", type=Path, required=True, help="folder for data and certificate")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port, help="0 for an ephemeral port")
    return parser


def serve_process(sandbox: HttpsSandbox) -> int:
    """Serve ``sandbox`` as a process until SIGTERM or SIGINT, printing its URL once listening;
    the exit status: 1, with the reason on stderr, when it cannot serve."""
    try:
        serve_until_signalled(sandbox, _print_url)
    except (OSError, ValueError) as exc:
        print(f"cannot serve the {sandbox.label}: {exc}", file=sys.stderr)
        return 1
    return 0


def _print_url(sandbox: HttpsSandbox) -> None:
    print(sandbox.url, flush=True)  # the one line a supervising process reads

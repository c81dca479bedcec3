"""A real Tryton 8.2 server (``trytond``) for tests, on a copy of a prepared SQLite database.

The template database (the accounting modules activated, user ``admin``) takes 12–20 s to
build, so it is built once and cached outside the repository, in ``$REVSYNC_TEST_CACHE`` or
``~/.cache/revsync-tests``, under a folder named after the trytond version and a hash of the
module list and installed Tryton packages. A file lock keeps parallel workers from building
it twice. Each test then copies the file and starts ``trytond`` on a loopback port (~1 s).

trytond runs only as subprocesses: nothing here imports it.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

#: the modules activated in the template (their dependencies come with ``--activate-dependencies``)
MODULES = ("account_invoice", "account_invoice_defer", "account_dunning", "account_payment")
ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "admin-test-password"
ADMIN_EMAIL = "admin@example.com"
#: bump when the way the template is built changes, so cached templates are rebuilt
RECIPE = 1

STARTUP_SECONDS = 30
BUILD_SECONDS = 600
LOCK_SECONDS = 900
TEMPLATE_NAME = "template.sqlite"


class TrytonRpcError(Exception):
    """A JSON-RPC call that failed: ``error`` is the server's error payload
    (e.g. ``["UserError", [message, description, domain]]``), or ``None`` when the server
    answered with an HTTP error instead (401 expired session, 429 too many logins, …)."""

    def __init__(self, method: str, error: Any, status_code: int = 200) -> None:
        self.method = method
        self.error = error
        self.status_code = status_code
        detail = f"HTTP {status_code}" if error is None else repr(error)
        super().__init__(f"{method}: {detail}")


# --- availability -------------------------------------------------------------------------


def in_ci() -> bool:
    """True on CI, where every real service must be present."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _distributions() -> tuple[str, ...]:
    return ("trytond", *(f"trytond_{module}" for module in MODULES))


def _missing() -> list[str]:
    missing = []
    for name in _distributions():
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    missing += [name for name in ("trytond", "trytond-admin") if _script(name) is None]
    return missing


def require_tryton() -> None:
    """Fail on CI, skip elsewhere, when trytond or one of the modules is not installed."""
    missing = _missing()
    if not missing:
        return
    message = f"Tryton is not installed (missing: {', '.join(missing)}); pip install " + " ".join(
        f"'{name}>=8.2,<8.3'" for name in _distributions()
    )
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _script(name: str) -> Path | None:
    """The console script of this interpreter's environment (not a pyenv shim)."""
    candidate = Path(sysconfig.get_path("scripts")) / name
    if candidate.is_file():
        return candidate
    found = shutil.which(name)
    return Path(found) if found else None


def _command(name: str, *args: str) -> list[str]:
    script = _script(name)
    if script is None:
        pytest.fail(f"{name} is not installed", pytrace=False)
    return [sys.executable, str(script), *args]


def _env(**extra: str) -> dict[str, str]:
    """The environment for trytond: no TRYTOND_* overrides, DeprecationWarnings ignored."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("TRYTOND_") and key != "TRYTONPASSFILE"
    }
    # later entries win: keep the caller's filters, but never turn trytond's
    # "trytond.config.config is deprecated" import warning into an error
    warnings = [w for w in env.get("PYTHONWARNINGS", "").split(",") if w]
    env["PYTHONWARNINGS"] = ",".join([*warnings, "ignore::DeprecationWarning"])
    env.update(extra)
    return env


# --- the template ---------------------------------------------------------------------------


def cache_root() -> Path:
    """``$REVSYNC_TEST_CACHE`` or ``~/.cache/revsync-tests``."""
    configured = os.environ.get("REVSYNC_TEST_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "revsync-tests"


def template_folder() -> Path:
    """The cache folder for this trytond version, module list and installed Tryton packages."""
    version = importlib.metadata.version("trytond")
    installed = sorted(
        f"{dist.metadata['Name']}=={dist.version}"
        for dist in importlib.metadata.distributions()
        if (dist.metadata["Name"] or "").lower().replace("-", "_").startswith("trytond_")
    )
    key = json.dumps(
        {
            "recipe": RECIPE,
            "modules": sorted(MODULES),
            "installed": installed,
            "admin": ADMIN_PASSWORD,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return cache_root() / f"tryton-{version}-{digest}"


@contextlib.contextmanager
def _locked(path: Path, timeout: float = LOCK_SECONDS) -> Iterator[None]:
    """An exclusive ``flock`` on ``path``, waited for at most ``timeout`` seconds."""
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"waited {timeout} s for the lock {path}", pytrace=False)
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def tryton_template() -> Path:
    """The path of the prepared template database, built on first use and cached.

    Safe across pytest runs and xdist workers: the first one builds under a lock, into a
    temporary folder, and renames the finished file into place; the others wait and reuse it.
    """
    folder = template_folder()
    template = folder / TEMPLATE_NAME
    if template.is_file():
        return template
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder / "build.lock"):
        if not template.is_file():
            _build(folder, template)
    return template


def _build(folder: Path, template: Path) -> None:
    """Build the template with ``trytond-admin`` in a temporary folder; move it into place."""
    build = Path(tempfile.mkdtemp(prefix="build-", dir=folder))
    try:
        name = template.stem
        database = build / f"{name}.sqlite"
        database.touch()  # trytond-admin needs the SQLite file to exist
        config = build / "trytond.conf"
        config.write_text(f"[database]\nuri = sqlite://\npath = {build}\n")
        password = build / "password"
        password.write_text(f"{ADMIN_PASSWORD}\n")
        log = build / "build.log"
        command = _command(
            "trytond-admin",
            "-c",
            str(config),
            "-d",
            name,
            "-u",
            *MODULES,
            "--activate-dependencies",
            "--email",
            ADMIN_EMAIL,
        )
        started = time.monotonic()
        with log.open("wb") as output:
            try:
                done = subprocess.run(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    cwd=build,
                    env=_env(TRYTONPASSFILE=str(password)),
                    timeout=BUILD_SECONDS,
                    check=False,
                )
                failure = f"exited with {done.returncode}" if done.returncode else ""
            except subprocess.TimeoutExpired:
                failure = f"took more than {BUILD_SECONDS} s"
        seconds = time.monotonic() - started
        shutil.copyfile(log, folder / "build.log")
        if failure:
            pytest.fail(
                f"trytond-admin {failure} building the Tryton template:\n{_tail(log)}",
                pytrace=False,
            )
        _checkpoint(database)
        (folder / "build.json").write_text(
            json.dumps(
                {
                    "trytond": importlib.metadata.version("trytond"),
                    "modules": list(MODULES),
                    "seconds": round(seconds, 1),
                    "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                },
                indent=2,
            )
        )
        os.replace(database, template)
    finally:
        shutil.rmtree(build, ignore_errors=True)


def _checkpoint(database: Path) -> None:
    """Fold any write-ahead log into the file itself, so that a plain copy is complete."""
    conn = sqlite3.connect(database)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


def _tail(path: Path, size: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except FileNotFoundError:
        return f"(no {path.name})"


# --- JSON-RPC -------------------------------------------------------------------------------


def session_header(session: tuple[str, int, str]) -> dict[str, str]:
    """``Authorization: Session base64(login:uid:session)``."""
    user, uid, key = session
    token = base64.b64encode(f"{user}:{uid}:{key}".encode()).decode()
    return {"Authorization": f"Session {token}"}


def rpc(
    url: str,
    database: str,
    method: str,
    params: list[Any],
    *,
    session: tuple[str, int, str] | None = None,
    timeout: float = 30,
) -> Any:
    """One JSON-RPC call to ``{url}{database}/rpc/``; the result, or ``TrytonRpcError``."""
    headers = session_header(session) if session else {}
    response = httpx.post(
        f"{url}{database}/rpc/",
        json={"id": 1, "method": method, "params": params},
        headers=headers,
        timeout=timeout,
        trust_env=False,  # no proxy from the environment between test and server
    )
    if response.status_code != 200:
        raise TrytonRpcError(method, None, response.status_code)
    payload = response.json()
    if payload.get("error") is not None:
        raise TrytonRpcError(method, payload["error"])
    return payload.get("result")


def login(
    url: str, database: str, user: str = ADMIN_LOGIN, password: str = ADMIN_PASSWORD
) -> tuple[str, int, str]:
    """Log in with ``common.db.login``; return ``(login, uid, session)``."""
    result = rpc(url, database, "common.db.login", [user, {"password": password}, "en"])
    return user, int(result[0]), str(result[1])


# --- the server -----------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class TrytonServer:
    """A real trytond on loopback on a copy of the template.

    ``start()`` after ``kill()`` or ``stop()`` brings the same database back on the same port,
    so a client configured with ``url`` keeps working after an outage.
    """

    def __init__(
        self,
        directory: Path,
        template: Path,
        *,
        database: str = "revsync",
        session_timeout: int = 3600,
        max_attempt: int = 50,
    ) -> None:
        self.directory = directory
        self.template = template
        self.database = database
        self.session_timeout = session_timeout
        self.max_attempt = max_attempt
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.config = directory / "trytond.conf"
        self.log = directory / "trytond.log"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>/``; the JSON-RPC endpoint is ``{url}{database}/rpc/``."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def database_file(self) -> Path:
        """The SQLite file the server runs on."""
        return self.directory / f"{self.database}.sqlite"

    @property
    def running(self) -> bool:
        """True while the trytond process is alive."""
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Copy the template (first start only), start trytond and wait until login works."""
        if self.running:
            return
        if self.starts == 0:
            self.directory.mkdir(parents=True, exist_ok=True)
            for suffix in ("-wal", "-shm"):  # stale ones would bring old data back
                Path(f"{self.database_file}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(self.template, self.database_file)
        for _attempt in range(5):
            self._write_config()
            if self._launch():
                return
            # lost the race for the port to another process: only possible before the
            # first successful start, afterwards the URL must not change
            if self.starts > 0:
                break
            self.port = free_port()
        pytest.fail(
            f"trytond could not listen on 127.0.0.1:{self.port}:\n{self.log_tail()}",
            pytrace=False,
        )

    def _write_config(self) -> None:
        self.config.write_text(
            "[database]\n"
            "uri = sqlite://\n"
            f"path = {self.directory}\n"
            "list = False\n"
            "[web]\n"
            f"listen = 127.0.0.1:{self.port}\n"
            "[session]\n"
            f"timeout = {self.session_timeout}\n"
            f"max_attempt = {self.max_attempt}\n"
        )

    def _launch(self) -> bool:
        """Start trytond and wait for a working login; False if the port was taken."""
        with self.log.open("ab") as output:
            output.write(f"--- start {self.starts + 1} on port {self.port}\n".encode())
            output.flush()
            self.process = subprocess.Popen(
                _command("trytond", "-c", str(self.config), "-d", self.database),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                env=_env(),
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "Address already in use" in self._this_start_log():
                    return False
                pytest.fail(
                    f"trytond exited with {self.process.returncode}:\n{self.log_tail()}",
                    pytrace=False,
                )
            try:
                login(self.url, self.database)
            except httpx.TransportError:
                time.sleep(0.05)
                continue
            except TrytonRpcError as error:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=2)  # another server on the port: trytond exits
                if self.process.poll() is not None:
                    continue
                self.stop()
                pytest.fail(
                    f"trytond refused the admin login: {error}\n{self.log_tail()}", pytrace=False
                )
            self.starts += 1
            return True
        self.stop()
        pytest.fail(
            f"trytond did not accept a login in {STARTUP_SECONDS} s:\n{self.log_tail()}",
            pytrace=False,
        )

    def _this_start_log(self) -> str:
        return self.log_tail(100_000).rpartition("--- start ")[2]

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if trytond does not exit in 10 s. Idempotent."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL trytond (an outage); the database stays for the next ``start()``."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def log_tail(self, size: int = 4000) -> str:
        """The end of trytond's output (all starts)."""
        return _tail(self.log, size)

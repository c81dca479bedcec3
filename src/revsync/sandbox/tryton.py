"""A local Tryton ERP: build its SQLite database and serve it with ``trytond`` on loopback.

The demo and the tests need a real Tryton 8.2 with the accounting modules that revsync posts
to, and the sale module for the sale orders of won deals. :func:`build_database` creates the
database file with ``trytond-admin`` (the modules of :data:`MODULES` activated, with their
dependencies, and the user ``admin``); it takes a while (~18 s on 2 cores; ~12 s before the
sale module), so callers keep the file and copy it. :class:`LocalTryton` runs a ``trytond`` server
on ``127.0.0.1`` for such a file; it can be stopped, killed (a crash) and started again on the
same port with its data::

    database = build_database(folder, admin_password="secret")
    with LocalTryton(folder, database) as erp:
        session = login(erp.url, erp.database, ADMIN_LOGIN, "secret")

trytond runs only as subprocesses of this interpreter (its console scripts' entry points):
nothing here imports it, so importing revsync never needs it. :func:`missing_packages` tells
whether it is installed.

Tryton's queue stays off (``[queue] worker = False``): each task a request queues — rendering
the invoice report at posting, marking a fully reconciled invoice ``paid`` — runs in the
server at the end of that request, so an invoice paid over JSON-RPC reads ``paid`` as soon as
the call returns. The queue cannot be turned on here: trytond 8.2's ``trytond-worker`` does
not run on SQLite (it waits on the database connection with a selector, which a SQLite
connection cannot join: ``ValueError: Invalid file object``), and ``ir.queue``'s ``pull`` query
fails on SQLite (``no such table``), so queued tasks would wait forever.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

#: the modules revsync needs (their dependencies come with ``--activate-dependencies``)
MODULES: tuple[str, ...] = (
    "account_invoice",
    "account_invoice_defer",
    "account_dunning",
    "account_payment",
    "sale",  # sale orders for won deals (brings stock and account_invoice_stock with it)
)
#: the login of the administrator that :func:`build_database` creates
ADMIN_LOGIN = "admin"
#: how long ``trytond-admin`` may take to build a database, in seconds
BUILD_SECONDS = 600.0
#: how long a process waits for another one building the same cached database, in seconds
CACHE_LOCK_SECONDS = 900.0
#: bump when the way a database is built changes, so cached databases are built again
RECIPE = 2
#: how long ``trytond`` may take to answer after it is started, in seconds
STARTUP_SECONDS = 30.0
#: how long ``trytond`` has to exit after SIGTERM before it is killed, in seconds
STOP_SECONDS = 10.0

#: ``(login, user id, session key)``, as returned by :func:`login`
Session = tuple[str, int, str]

_DATABASE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_PORT_IN_USE = "Address already in use"
_INSTANCE_FILE = "revsync-instance.txt"


class TrytonError(Exception):
    """The local Tryton could not be built or run; the message ends with trytond's output."""


class TrytonRpcError(Exception):
    """A JSON-RPC call that failed.

    ``error`` is the server's error payload (e.g. ``["UserError", [message, description,
    domain]]``), or ``None`` when the server answered with an HTTP error instead (401 expired
    session, 429 too many logins, …).
    """

    def __init__(self, method: str, error: Any, status_code: int = 200) -> None:
        self.method = method
        self.error = error
        self.status_code = status_code
        detail = f"HTTP {status_code}" if error is None else repr(error)
        super().__init__(f"{method}: {detail}")


# --- installation -------------------------------------------------------------------------


def distributions(modules: Iterable[str] = MODULES) -> tuple[str, ...]:
    """The Python distributions of trytond and of ``modules``."""
    return ("trytond", *(f"trytond_{module}" for module in modules))


def missing_packages(modules: Iterable[str] = MODULES) -> list[str]:
    """The distributions of :func:`distributions` that are not installed (empty when ready)."""
    missing = []
    for name in distributions(modules):
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def _command(script: str, *args: str) -> list[str]:
    """Run trytond's console script ``script`` with this interpreter (not whatever is on PATH)."""
    for entry_point in importlib.metadata.entry_points(group="console_scripts", name=script):
        code = (
            f"import sys; sys.argv[0] = {script!r}; "
            f"from {entry_point.module} import {entry_point.attr} as main; sys.exit(main())"
        )
        return [sys.executable, "-P", "-c", code, *args]
    raise TrytonError(f"{script} is not installed (pip install trytond)")


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


def _tail(path: Path, size: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except FileNotFoundError:
        return f"(no {path.name})"


# --- the database -------------------------------------------------------------------------


def build_database(
    folder: Path,
    *,
    database: str = "revsync",
    admin_password: str,
    admin_email: str = "admin@example.com",
    modules: Sequence[str] = MODULES,
    log: Path | None = None,
    timeout: float = BUILD_SECONDS,
) -> Path:
    """Build the SQLite database ``folder/<database>.sqlite`` with ``modules`` activated.

    ``trytond-admin`` runs in a temporary folder inside ``folder``, and the finished file is
    moved into place, so the path holds a complete database or nothing. Its output goes to
    ``log`` (kept) when given. Returns the path of the file; raises ``FileExistsError`` if it
    exists already and :class:`TrytonError` (with the end of the output) if the build fails or
    takes more than ``timeout`` seconds.
    """
    if not _DATABASE_NAME.fullmatch(database):
        raise ValueError(f"not a database name: {database!r}")
    missing = missing_packages(modules)
    if missing:
        raise TrytonError(f"Tryton is not installed (missing: {', '.join(missing)})")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{database}.sqlite"
    if target.exists():
        raise FileExistsError(f"{target} exists already")
    build = Path(tempfile.mkdtemp(prefix=".build-", dir=folder)).resolve()
    try:
        built = build / target.name
        built.touch()  # trytond-admin needs the SQLite file to exist
        config = build / "trytond.conf"
        config.write_text(f"[database]\nuri = sqlite://\npath = {build}\n")
        password = build / "password"
        with os.fdopen(os.open(password, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(f"{admin_password}\n")
        output_path = log if log is not None else build / "trytond-admin.log"
        command = _command(
            "trytond-admin",
            *("-c", str(config), "-d", database, "-u", *modules),
            *("--activate-dependencies", "--email", admin_email),
        )
        with output_path.open("wb") as output:
            try:
                done = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    cwd=build,
                    env=_env(TRYTONPASSFILE=str(password)),
                    timeout=timeout,
                    check=False,
                )
                failure = f"exited with {done.returncode}" if done.returncode else ""
            except subprocess.TimeoutExpired:
                failure = f"took more than {timeout:g} s"
        if failure:
            raise TrytonError(
                f"trytond-admin {failure} building the Tryton database {database!r}:\n"
                + _tail(output_path)
            )
        _checkpoint(built)
        os.replace(built, target)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return target


def cache_home() -> Path:
    """Where built databases are kept for reuse: ``$REVSYNC_CACHE`` or ``~/.cache/revsync``."""
    configured = os.environ.get("REVSYNC_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "revsync"


def cached_database(
    *,
    admin_password: str,
    admin_email: str = "admin@example.com",
    modules: Sequence[str] = MODULES,
    cache: Path | None = None,
) -> Path:
    """A database built by :func:`build_database`, built once and kept in ``cache`` (default
    :func:`cache_home`) for every later call with the same arguments, trytond version and
    installed Tryton packages. Returns the cached file: copy it, never serve it.

    Safe across processes: the first builds under a file lock (and only a finished file is
    moved into place); the others wait up to :data:`CACHE_LOCK_SECONDS` and reuse it.
    """
    folder = _cache_folder(cache or cache_home(), admin_password, admin_email, modules)
    database = folder / "template.sqlite"
    if database.is_file():
        return database
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder / "build.lock"):
        if not database.is_file():
            started = time.monotonic()
            build_database(
                folder,
                database=database.stem,
                admin_password=admin_password,
                admin_email=admin_email,
                modules=modules,
                log=folder / "build.log",
            )
            facts = {
                "trytond": importlib.metadata.version("trytond"),
                "modules": list(modules),
                "seconds": round(time.monotonic() - started, 1),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            (folder / "build.json").write_text(json.dumps(facts, indent=2))
    return database


def _cache_folder(
    cache: Path, admin_password: str, admin_email: str, modules: Sequence[str]
) -> Path:
    """The cache folder for this trytond version, the installed Tryton packages and what is
    built (the password only as part of a digest)."""
    version = importlib.metadata.version("trytond")
    installed = sorted(
        f"{dist.metadata['Name']}=={dist.version}"
        for dist in importlib.metadata.distributions()
        if (dist.metadata["Name"] or "").lower().replace("-", "_").startswith("trytond_")
    )
    key = json.dumps(
        {
            "recipe": RECIPE,
            "modules": sorted(modules),
            "installed": installed,
            "admin": [admin_password, admin_email],
        },
        sort_keys=True,
    )
    return cache / f"tryton-{version}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path``, waited for at most :data:`CACHE_LOCK_SECONDS`."""
    with path.open("a") as handle:
        deadline = time.monotonic() + CACHE_LOCK_SECONDS
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TrytonError(f"waited {CACHE_LOCK_SECONDS:g} s for {path}") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _checkpoint(database: Path) -> None:
    """Fold any write-ahead log into the file itself, so that a plain copy is complete."""
    conn = sqlite3.connect(database)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


# --- JSON-RPC -----------------------------------------------------------------------------


def session_header(session: Session) -> dict[str, str]:
    """``Authorization: Session base64(login:uid:session)``."""
    user, uid, key = session
    token = base64.b64encode(f"{user}:{uid}:{key}".encode()).decode()
    return {"Authorization": f"Session {token}"}


def rpc(
    url: str,
    database: str | None,
    method: str,
    params: Sequence[Any],
    *,
    session: Session | None = None,
    timeout: float = 30,
) -> Any:
    """One JSON-RPC call to ``{url}{database}/rpc/`` (``{url}rpc/`` without a database).

    Returns the result as JSON (no Tryton type decoding); raises :class:`TrytonRpcError` when
    the server answers with an error, ``httpx.TransportError`` when it does not answer.
    """
    endpoint = url.rstrip("/") + (f"/{database}/rpc/" if database else "/rpc/")
    response = httpx.post(
        endpoint,
        json={"id": 1, "method": method, "params": list(params)},
        headers=session_header(session) if session else {},
        timeout=timeout,
        trust_env=False,  # no proxy from the environment between us and a loopback server
    )
    if response.status_code != 200:
        raise TrytonRpcError(method, None, response.status_code)
    payload: Mapping[str, Any] = response.json()
    if payload.get("error") is not None:
        raise TrytonRpcError(method, payload["error"])
    return payload.get("result")


def login(url: str, database: str, user: str, password: str) -> Session:
    """Log in with ``common.db.login``; return ``(login, uid, session)``."""
    result = rpc(url, database, "common.db.login", [user, {"password": password}, "en"])
    return user, int(result[0]), str(result[1])


# --- the server ---------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _port_is_free(port: int) -> bool:
    """True if trytond could listen on ``port`` now (it binds with SO_REUSEADDR too)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class LocalTryton:
    """A ``trytond`` server on ``127.0.0.1`` for the SQLite file ``database_file``.

    Its configuration (``trytond.conf``) and output (``trytond.log``) live in ``folder``. Its
    queue is off: what a request queues (the invoice report, ``paid``) is done before it
    answers.
    With ``port=0`` a free port is chosen, once: ``start()`` after ``stop()`` or ``kill()``
    brings the same database back on the same port, so a client configured with :attr:`url`
    keeps working after an outage. ``start()`` returns once this very process answers on the
    port (and, given ``admin_password``, accepts the admin's login). Also a context manager
    (start … stop).
    """

    def __init__(
        self,
        folder: Path,
        database_file: Path,
        *,
        port: int = 0,
        session_timeout: int = 3600,
        max_attempt: int = 50,
        startup_timeout: float = STARTUP_SECONDS,
        admin_password: str | None = None,
    ) -> None:
        if database_file.suffix != ".sqlite" or not _DATABASE_NAME.fullmatch(database_file.stem):
            raise ValueError(f"not a Tryton SQLite database file name: {database_file.name!r}")
        self.folder = folder
        self.database_file = database_file
        self.session_timeout = session_timeout
        self.max_attempt = max_attempt
        self.startup_timeout = startup_timeout
        self.config = folder / "trytond.conf"
        self.log = folder / "trytond.log"
        self.admin_password = admin_password
        #: a static folder that trytond serves, holding a token that changes at every start:
        #: the proof that what answers on the port is this start's process
        self._web = folder / "web"
        self.process: subprocess.Popen[bytes] | None = None
        #: how many times the server was started successfully
        self.starts = 0
        self._fixed_port = port != 0
        self.port = port or free_port()

    @property
    def database(self) -> str:
        """The database name (the file name without ``.sqlite``)."""
        return self.database_file.stem

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>/``; the JSON-RPC endpoint is ``{url}{database}/rpc/``."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def running(self) -> bool:
        """True while the trytond process is alive."""
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start trytond and wait until it answers; nothing if it is running already.

        Raises :class:`TrytonError` if it exits, cannot listen on its port or does not answer
        within ``startup_timeout`` seconds.
        """
        if self.running:
            return
        if not self.database_file.is_file():
            raise TrytonError(f"no Tryton database at {self.database_file}")
        self.folder.mkdir(parents=True, exist_ok=True)
        for _attempt in range(5):
            # a port chosen here may change until the first start; afterwards the URL stays
            movable = not self._fixed_port and self.starts == 0
            if _port_is_free(self.port):
                self._write_config()
                if self._launch():
                    return
            if movable:
                self.port = free_port()
            else:  # a fixed port may be held a moment longer by a server just stopped
                time.sleep(1)
        raise TrytonError(
            f"trytond could not listen on 127.0.0.1:{self.port} (in use):\n{self.log_tail()}"
        )

    def _write_config(self) -> None:
        self.config.write_text(
            "[database]\n"
            "uri = sqlite://\n"
            f"path = {self.database_file.parent.resolve()}\n"
            "list = False\n"
            "[web]\n"
            f"listen = 127.0.0.1:{self.port}\n"
            f"root = {self._web.resolve()}\n"
            "[session]\n"
            f"timeout = {self.session_timeout}\n"
            f"max_attempt = {self.max_attempt}\n"
            # queued tasks run in the request (the module's docstring says why)
            "[queue]\n"
            "worker = False\n"
        )

    def _launch(self) -> bool:
        """Start trytond and wait until it answers; False if the port was taken."""
        token = secrets.token_hex(16)
        self._web.mkdir(exist_ok=True)
        (self._web / _INSTANCE_FILE).write_text(token)
        with self.log.open("ab") as output:
            output.write(f"--- start {self.starts + 1} on port {self.port}\n".encode())
            output.flush()
            process = self.process = subprocess.Popen(  # noqa: S603 - our interpreter
                _command("trytond", "-c", str(self.config.resolve()), "-d", self.database),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.folder,
                env=_env(),
            )
        # trytond loads the database before it listens: once it answers, it is ready
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                if _PORT_IN_USE in self._this_start_log():
                    return False
                raise TrytonError(f"trytond exited with {process.returncode}:\n{self.log_tail()}")
            try:
                answer = httpx.get(self.url + _INSTANCE_FILE, timeout=5, trust_env=False)
            except httpx.TransportError:
                time.sleep(0.05)
                continue
            if answer.status_code != 200 or answer.text != token:
                # another process answers on the port: trytond exits when it tries to listen
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=5)
                if process.poll() is not None:
                    continue
                self.stop()
                raise TrytonError(f"another server answers on 127.0.0.1:{self.port}")
            if self.admin_password is not None:
                try:
                    login(self.url, self.database, ADMIN_LOGIN, self.admin_password)
                except TrytonRpcError as error:
                    self.stop()
                    raise TrytonError(
                        f"trytond refused the admin login: {error}\n{self.log_tail()}"
                    ) from error
            self.starts += 1
            return True
        self.stop()
        raise TrytonError(
            f"trytond did not answer in {self.startup_timeout:g} s:\n{self.log_tail()}"
        )

    def _this_start_log(self) -> str:
        return self.log_tail(100_000).rpartition("--- start ")[2]

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if trytond does not exit in time. Idempotent."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_SECONDS)

    def kill(self) -> None:
        """SIGKILL trytond (a crash); the database stays for the next ``start()``."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=STOP_SECONDS)

    def log_tail(self, size: int = 4000) -> str:
        """The end of trytond's output (all starts)."""
        return _tail(self.log, size)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<LocalTryton {self.database} on {self.url} ({state})>"

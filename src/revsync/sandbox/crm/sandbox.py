"""``CrmSandbox``: the sandbox served over HTTPS from a background thread (uvicorn), with the
test-side controls — faults, budget, tokens, counters — and direct access to the records."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Self

import uvicorn

from revsync.sandbox.crm.control import Control, Credentials, Fault, Usage
from revsync.sandbox.crm.schema import CustomField, Schema
from revsync.sandbox.crm.seed import SeedReport, seed
from revsync.sandbox.crm.server import SandboxState, build_app
from revsync.sandbox.crm.store import Rule, Store
from revsync.sandbox.crm.tls import make_certificate

_START_TIMEOUT = 15.0
_DB_NAME = "crm.sqlite3"
_CREDENTIALS_NAME = "credentials.json"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CrmSandbox:
    """A Salesforce-compatible REST sandbox on loopback, its data in ``path`` (SQLite, the
    certificate, and ``credentials.json``). Start with ``with`` or ``start()``/``stop()``.

    ``seed``: fill an empty folder with that many deterministic accounts (and contracts);
    ``daily_limit``: the request budget; ``page_size``: records per query page;
    ``token_lifetime``: seconds an access token lives; ``custom_fields``: object → {field: type
    or CustomField}, added to the default revsync fields; ``clock``: the time records are
    stamped with; ``seed_date``: the date seeded contracts are placed around (default: today).
    """

    def __init__(
        self,
        path: Path,
        *,
        seed: int | None = None,
        daily_limit: int = 15000,
        host: str = "127.0.0.1",
        port: int = 0,
        page_size: int = 2000,
        token_lifetime: float = 7200.0,
        credentials: Credentials | None = None,
        custom_fields: Mapping[str, Mapping[str, CustomField | str]] | None = None,
        clock: Callable[[], datetime] | None = None,
        seed_date: date | None = None,
    ) -> None:
        if not 1 <= page_size <= 2000:
            raise ValueError("page_size is between 1 and 2000")
        if seed is not None and seed < 0:
            raise ValueError("seed (the number of accounts) is >= 0")
        self.path = Path(path)
        self.host = host
        self._port = port
        self._seed = seed
        self._seed_date = seed_date
        self._page_size = page_size
        self._clock = clock or _utc_now
        self.schema = Schema(custom_fields)
        self.credentials = credentials or Credentials()
        self.control = Control(daily_limit, token_lifetime)
        self._store: Store | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._bound_port: int | None = None
        self.seeded: SeedReport | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        """Write the certificate, open (and seed) the store, and serve; returns once listening."""
        if self._thread is not None:
            raise RuntimeError("CrmSandbox already started")
        self.path.mkdir(parents=True, exist_ok=True)
        files = make_certificate(self.path, self.host)
        self._write_credentials()
        store = Store(self.path / _DB_NAME, self.schema, self._clock)
        try:
            self._seed_store(store)
            sock = self._bind()
        except BaseException:
            store.close()
            raise
        self._store = store
        state = SandboxState(store, self.schema, self.control, self.credentials, self._page_size)
        config = uvicorn.Config(
            build_app(state),
            ssl_certfile=str(files.cert_path),
            ssl_keyfile=str(files.key_path),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="CrmSandbox", daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        self._wait_started(sock)
        return self

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

    def _wait_started(self, sock: socket.socket) -> None:
        server, thread = self._server, self._thread
        assert server is not None and thread is not None
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not server.started:
            self.stop()
            sock.close()
            raise RuntimeError("the CRM sandbox did not start listening in time")

    def stop(self) -> None:
        """Stop serving and close the store; idempotent."""
        server, thread, store = self._server, self._thread, self._store
        if server is not None:  # open keep-alive TLS connections are not waited for
            server.should_exit = server.force_exit = True
        if thread is not None:
            thread.join(_START_TIMEOUT)
        if store is not None:
            store.close()
        self._server = self._thread = self._store = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _seed_store(self, store: Store) -> None:
        if self._seed is None:
            return
        done = store.meta("seed")
        if done is not None:
            if int(done) != self._seed:
                raise ValueError(f"{self.path} was seeded with {done} accounts, not {self._seed}")
            return
        as_of = self._seed_date or self._clock().date()
        self.seeded = seed(store, self._seed, self._seed, as_of)
        store.set_meta("seed", str(self._seed))

    def _write_credentials(self) -> None:
        descriptor = os.open(self.credentials_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(self.credentials.as_json(), handle, indent=2)

    # -- addresses -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port listened on."""
        if self._bound_port is None:
            raise RuntimeError("CrmSandbox not started")
        return self._bound_port

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT`` — the instance URL."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    @property
    def token_url(self) -> str:
        """The OAuth2 token endpoint."""
        return f"{self.url}/services/oauth2/token"

    @property
    def cert_path(self) -> Path:
        """The certificate to verify the sandbox with (``session.verify = str(cert_path)``)."""
        return self.path / "cert.pem"

    @property
    def credentials_path(self) -> Path:
        """``credentials.json`` (mode 0600): client id and secret, username, password, admin
        token."""
        return self.path / _CREDENTIALS_NAME

    @property
    def store(self) -> Store:
        """The records (direct access; started sandboxes only)."""
        if self._store is None:
            raise RuntimeError("CrmSandbox not started")
        return self._store

    # -- controls ------------------------------------------------------------------------------

    def issue_token(self) -> str:
        """A valid access token, without going through the token endpoint."""
        return self.control.issue_token()

    def revoke_tokens(self) -> None:
        """Invalidate every access token (clients get 401 INVALID_SESSION_ID)."""
        self.control.revoke_tokens()

    def set_token_lifetime(self, seconds: float) -> None:
        """How long tokens issued from now on live."""
        self.control.set_token_lifetime(seconds)

    def inject(self, *faults: Fault) -> None:
        """Script faults for the next matching REST requests (in order)."""
        self.control.script(faults)

    def clear_faults(self) -> None:
        """Drop the scripted faults not taken yet."""
        self.control.clear_faults()

    def usage(self) -> Usage:
        """Requests used today and the daily maximum."""
        return self.control.usage()

    def reset_usage(self, used: int = 0, daily_limit: int | None = None) -> Usage:
        """Set the requests used (0: a new day) and optionally a new daily maximum."""
        return self.control.reset_usage(used, daily_limit)

    def request_counts(self) -> dict[tuple[str, str], int]:
        """Requests received per (method, kind); kinds: token, versions, resources, limits,
        query, queryAll, queryMore, describeGlobal, sobject (create), describe, updated,
        deleted, record (by id), externalId (upsert / by external id), composite/sobjects,
        unknown."""
        return self.control.counts()

    def reset_request_counts(self) -> None:
        """Forget the request counts."""
        self.control.reset_counts()

    def add_validation_rule(self, object_name: str, rule: Rule) -> None:
        """Refuse saves of ``object_name`` when ``rule(record)`` returns a message
        (FIELD_CUSTOM_VALIDATION_EXCEPTION)."""
        self.store.add_rule(object_name, rule)

    # -- data, directly ------------------------------------------------------------------------

    def create_record(self, object_name: str, values: Mapping[str, Any]) -> str:
        """Create a record as a user would; its id."""
        return str(self.store.create(object_name, values)["Id"])

    def update_record(
        self,
        object_name: str,
        record_id: str,
        values: Mapping[str, Any],
        *,
        automated: bool = False,
    ) -> dict[str, Any]:
        """Edit a record as a user would (``automated``: as a workflow would — SystemModstamp
        moves, LastModifiedDate does not); the record as saved."""
        return self.store.update(object_name, record_id, values, automated=automated)

    def delete_record(self, object_name: str, record_id: str) -> None:
        """Delete a record (to the recycle bin: IsDeleted, still in queryAll)."""
        self.store.delete(object_name, record_id)

    def purge_deleted(self) -> int:
        """Empty the recycle bin: deleted records are gone, earliestDateAvailable moves."""
        return self.store.purge_deleted()

    def get_record(
        self, object_name: str, record_id: str, *, include_deleted: bool = False
    ) -> dict[str, Any] | None:
        """A record by id (15 or 18 characters), or None."""
        object_def = self.schema.object(object_name)
        if object_def is None:
            raise ValueError(f"unknown sObject {object_name!r}")
        return self.store.get(object_def, record_id, include_deleted=include_deleted)

    def records(self, object_name: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every record of a type, in Id order."""
        return self.store.records(object_name, include_deleted=include_deleted)


def serve_until_signalled(sandbox: CrmSandbox, announce: Callable[[CrmSandbox], None]) -> None:
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

"""A real Tryton 8.2 server (``trytond``) for tests, on a copy of a prepared SQLite database.

Building and serving are :mod:`revsync.sandbox.tryton`'s (the demo runs the same local ERP);
this module adds what tests need on top. The template database (the accounting and sale
modules activated, user ``admin``) takes ~18 s to build, so it is built once and cached outside
the repository, in ``$REVSYNC_TEST_CACHE`` or ``~/.cache/revsync-tests``, under a folder named
after the trytond version and a hash of the module list and installed Tryton packages. A file lock
keeps parallel workers from building it twice. Each test then copies the file and starts
``trytond`` on a loopback port (~1 s).

trytond runs only as subprocesses: nothing here imports it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from revsync.sandbox import tryton as sandbox
from revsync.sandbox.tryton import (
    ADMIN_LOGIN,
    MODULES,
    LocalTryton,
    Session,
    TrytonError,
    TrytonRpcError,
    free_port,
    rpc,
    session_header,
)

__all__ = [
    "ADMIN_EMAIL",
    "ADMIN_LOGIN",
    "ADMIN_PASSWORD",
    "MODULES",
    "TrytonRpcError",
    "TrytonServer",
    "cache_root",
    "free_port",
    "login",
    "require_tryton",
    "rpc",
    "session_header",
    "tryton_template",
]

ADMIN_PASSWORD = "admin-test-password"
ADMIN_EMAIL = "admin@example.com"


# --- availability -------------------------------------------------------------------------


def require_tryton() -> None:
    """Fail when trytond or one of its modules is missing: they are revsync's dependencies, so
    a missing one is a broken install, never a reason to skip."""
    missing = sandbox.missing_packages()
    if not missing:
        return
    message = f"Tryton is not installed (missing: {', '.join(missing)}); pip install " + " ".join(
        f"'{name}>=8.2,<8.3'" for name in sandbox.distributions()
    )
    pytest.fail(message, pytrace=False)


# --- the template ---------------------------------------------------------------------------


def cache_root() -> Path:
    """``$REVSYNC_TEST_CACHE`` or ``~/.cache/revsync-tests``."""
    configured = os.environ.get("REVSYNC_TEST_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "revsync-tests"


def tryton_template() -> Path:
    """The path of the prepared template database, built on first use and cached (safe across
    pytest runs and xdist workers: see :func:`revsync.sandbox.tryton.cached_database`)."""
    try:
        return sandbox.cached_database(
            admin_password=ADMIN_PASSWORD, admin_email=ADMIN_EMAIL, cache=cache_root()
        )
    except TrytonError as error:
        pytest.fail(f"building the Tryton template: {error}", pytrace=False)


# --- JSON-RPC -------------------------------------------------------------------------------


def login(
    url: str, database: str, user: str = ADMIN_LOGIN, password: str = ADMIN_PASSWORD
) -> Session:
    """Log in with ``common.db.login`` (as the test admin by default)."""
    return sandbox.login(url, database, user, password)


# --- the server -----------------------------------------------------------------------------


class TrytonServer(LocalTryton):
    """A real trytond on loopback on a copy of ``template`` (``directory/<database>.sqlite``).

    The template is copied on the first start; ``start()`` after ``kill()`` or ``stop()`` brings
    the same database back on the same port. A server that cannot start fails the test.
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
        super().__init__(
            directory,
            directory / f"{database}.sqlite",
            session_timeout=session_timeout,
            max_attempt=max_attempt,
            admin_password=ADMIN_PASSWORD,  # started means the test admin can log in
        )
        self.directory = directory
        self.template = template

    def start(self) -> None:
        """Copy the template (first start only), start trytond and wait until login works."""
        if self.running:
            return
        if self.starts == 0:
            self.directory.mkdir(parents=True, exist_ok=True)
            for suffix in ("-wal", "-shm"):  # stale ones would bring old data back
                Path(f"{self.database_file}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(self.template, self.database_file)
        try:
            super().start()
        except TrytonError as error:
            pytest.fail(str(error), pytrace=False)

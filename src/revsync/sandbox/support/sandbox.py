"""``SupportSandbox``: the sandbox served over HTTPS from a background thread (uvicorn), with
the test-side controls — faults, rate budget, page sizes, counters, the webhook delivery log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from starlette.types import ASGIApp

from revsync.sandbox.serving import HttpsSandbox
from revsync.sandbox.support.control import Control, Credentials, Fault, Usage
from revsync.sandbox.support.delivery import Delivery, Dispatcher
from revsync.sandbox.support.routes import SupportState
from revsync.sandbox.support.seed import SEED_DATE, SeedReport, create_account, seed
from revsync.sandbox.support.server import build_app
from revsync.sandbox.support.store import Store

_DB_NAME = "support.sqlite3"
#: the account id webhook events carry
ACCOUNT_ID = 9_000_001


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SupportSandbox(HttpsSandbox):
    """A Zendesk-compatible Support API sandbox on loopback, its data in ``path`` (SQLite, the
    certificate, and ``credentials.json``: the agent's email and API token). Start with ``with``
    or ``start()``/``stop()``; the API is under ``url`` + ``/api/v2/``.

    ``seed``: fill a new folder with that many deterministic organizations (with users and
    tickets); ``rate_limit``: requests per minute; ``page_size``: the largest list page (100);
    ``export_page_size``: the largest incremental export page (1000); ``webhook_attempts`` and
    ``webhook_backoff``: tries per webhook delivery and the first retry's delay in seconds;
    ``clock``: the time records are stamped with; ``seed_date``: the day seeded records start.
    Stopping it stops the webhook deliveries too.
    """

    label = "support sandbox"
    credentials: Credentials

    def __init__(
        self,
        path: Path,
        *,
        seed: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: int = 700,
        page_size: int = 100,
        export_page_size: int = 1000,
        webhook_attempts: int = 4,
        webhook_backoff: float = 0.2,
        credentials: Credentials | None = None,
        clock: Callable[[], datetime] | None = None,
        seed_date: date = SEED_DATE,
    ) -> None:
        if seed is not None and seed < 0:
            raise ValueError("seed (the number of organizations) is >= 0")
        if webhook_attempts < 1 or webhook_backoff < 0:
            raise ValueError("webhook_attempts is >= 1 and webhook_backoff >= 0")
        super().__init__(path, host, port)
        self._seed = seed
        self._seed_date = seed_date
        self._clock = clock or _utc_now
        self._page_sizes = self._checked_sizes(page_size, export_page_size)
        self.credentials = credentials or Credentials()
        self.control = Control(rate_limit)
        self._dispatcher = Dispatcher(ACCOUNT_ID, webhook_attempts, webhook_backoff)
        self._store: Store | None = None
        self._admin_id = 0  # known once the store is open
        self._state: SupportState | None = None
        self.seeded: SeedReport | None = None

    @staticmethod
    def _checked_sizes(page_size: int, export_page_size: int) -> tuple[int, int]:
        if not 1 <= page_size <= 100 or not 1 <= export_page_size <= 1000:
            raise ValueError("page_size is 1 to 100, export_page_size 1 to 1000")
        return page_size, export_page_size

    # -- lifecycle -------------------------------------------------------------------------------

    def _open(self) -> None:
        self._store = Store(self.path / _DB_NAME, self._clock)
        self._admin_id = self._prepare(self._store)

    def _app(self) -> ASGIApp:
        self._state = SupportState(
            self.store,
            self.control,
            self.credentials,
            self._dispatcher,
            self._admin_id,
            ACCOUNT_ID,
            self.url,
            *self._page_sizes,
            clock=self._clock,
        )
        app = build_app(self._state)
        self._dispatcher.start()
        return app

    def _close(self) -> None:
        self._dispatcher.stop()
        store, self._store, self._state = self._store, None, None
        if store is not None:
            store.close()

    def _prepare(self, store: Store) -> int:
        """The admin's id: made (with the default fields, and the seed) in a new folder."""
        admin = store.meta("admin_id")
        if admin is None:
            admin = str(
                create_account(
                    store, self.credentials.email, self.credentials.name, self._seed_date
                )
            )
            store.set_meta("admin_id", admin)
        if self._seed is not None:
            done = store.meta("seed")
            if done is None:
                self.seeded = seed(store, self._seed, self._seed, int(admin), self._seed_date)
                store.set_meta("seed", str(self._seed))
            elif int(done) != self._seed:
                raise ValueError(
                    f"{self.path} was seeded with {done} organizations, not {self._seed}"
                )
        return int(admin)

    # -- addresses -------------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The records (direct access; started sandboxes only)."""
        if self._store is None:
            raise RuntimeError("SupportSandbox not started")
        return self._store

    @property
    def admin_id(self) -> int:
        """The id of the agent the API token belongs to."""
        if self._state is None:
            raise RuntimeError("SupportSandbox not started")
        return self._state.admin_id

    # -- controls --------------------------------------------------------------------------------

    def fault(self, *faults: Fault) -> None:
        """Script faults for the next matching API requests (in order)."""
        self.control.script(faults)

    def clear_faults(self) -> None:
        """Drop the scripted faults not taken yet."""
        self.control.clear_faults()

    @property
    def usage(self) -> Usage:
        """This minute's request budget and the requests received per (method, kind)."""
        return self.control.usage()

    def set_rate_limit(self, limit: int | None = None, *, used: int = 0) -> Usage:
        """Start a new minute with ``used`` requests spent, optionally with a new budget."""
        return self.control.set_rate_limit(limit, used=used)

    def reset_request_counts(self) -> None:
        """Forget the request counts."""
        self.control.reset_counts()

    def set_page_sizes(
        self, page_size: int | None = None, export_page_size: int | None = None
    ) -> None:
        """The largest list page (1-100) and incremental export page (1-1000) from now on."""
        state = self._started()
        sizes = self._checked_sizes(
            page_size or state.page_size, export_page_size or state.export_page_size
        )
        state.page_size, state.export_page_size = sizes

    def deliveries(self) -> list[Delivery]:
        """Every webhook delivery so far (state, attempts, body), in the order made."""
        return self._dispatcher.deliveries()

    def wait_for_deliveries(self, timeout: float = 10.0) -> bool:
        """Wait until no delivery is pending; False on timeout."""
        return self._dispatcher.wait_idle(timeout)

    def _started(self) -> SupportState:
        if self._state is None:
            raise RuntimeError("SupportSandbox not started")
        return self._state

"""``CrmSandbox``: the sandbox served over HTTPS from a background thread (uvicorn), with the
test-side controls — faults, budget, tokens, counters — and direct access to the records."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

from revsync.sandbox.crm.control import Control, Credentials, Fault, Usage
from revsync.sandbox.crm.schema import CustomField, Schema
from revsync.sandbox.crm.seed import SeedReport, seed
from revsync.sandbox.crm.server import SandboxState, build_app
from revsync.sandbox.crm.store import Rule, Store
from revsync.sandbox.serving import HttpsSandbox

_DB_NAME = "crm.sqlite3"


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CrmSandbox(HttpsSandbox):
    """A Salesforce-compatible REST sandbox on loopback, its data in ``path`` (SQLite, the
    certificate, and ``credentials.json``: client id and secret, username, password, admin
    token). Start with ``with`` or ``start()``/``stop()``; ``url`` is the instance URL.

    ``seed``: fill an empty folder with that many deterministic accounts (and contracts);
    ``daily_limit``: the request budget; ``page_size``: records per query page;
    ``token_lifetime``: seconds an access token lives; ``custom_fields``: object → {field: type
    or CustomField}, added to the default revsync fields; ``clock``: the time records are
    stamped with; ``seed_date``: the date seeded contracts are placed around (default: today).
    """

    label = "CRM sandbox"
    credentials: Credentials

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
        super().__init__(path, host, port)
        self._seed = seed
        self._seed_date = seed_date
        self._page_size = page_size
        self._clock = clock or _utc_now
        self.schema = Schema(custom_fields)
        self.credentials = credentials or Credentials()
        self.control = Control(daily_limit, token_lifetime)
        self._store: Store | None = None
        self.seeded: SeedReport | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def _open(self) -> None:
        self._store = Store(self.path / _DB_NAME, self.schema, self._clock)
        self._seed_store(self._store)

    def _app(self) -> ASGIApp:
        return build_app(
            SandboxState(self.store, self.schema, self.control, self.credentials, self._page_size)
        )

    def _close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            store.close()

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

    # -- addresses -----------------------------------------------------------------------------

    @property
    def token_url(self) -> str:
        """The OAuth2 token endpoint."""
        return f"{self.url}/services/oauth2/token"

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

"""The CRM port for Salesforce's REST API, on simple-salesforce.

simple-salesforce's login helpers post to a fixed ``*.salesforce.com`` host, so the token comes
from ``{instance}/services/oauth2/token`` (client credentials, or username and password) and
the client is built from it; an expired token is fetched again once per call. Calls run in a
worker thread, one at a time per adapter.

Limits: every response's ``Sforce-Limit-Info`` is read; when less than the reserve of the daily
budget is left, each call waits first (longer as the budget shrinks). ``REQUEST_LIMIT_EXCEEDED``
is retriable after a pause, ``UNABLE_TO_LOCK_ROW`` is retried here a few times, and writes go
in composite collections of up to 200 records. A field revsync does not own is refused before
any request (:class:`~revsync.ports.crm.OwnershipViolation`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import msgspec
import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.format import format_soql

from revsync.domain.crm import FieldMap
from revsync.domain.errors import InvalidField
from revsync.ports.crm import (
    AccountUpdate,
    ApiBudget,
    CrmRecord,
    CrmRefused,
    CrmUnavailable,
    KeyedRecord,
    KeyedResult,
    OwnershipViolation,
    Pulled,
    UpdateResult,
    Watermark,
)

T = TypeVar("T")

#: records per composite request (Salesforce's limit)
BATCH = 200
#: the field revsync's own records carry their key in
KEY_FIELD = "Revsync_Key__c"
#: account ids per SOQL query when reading accounts back (the query stays short)
_IDS_PER_QUERY = 200
#: which field links a keyed record to its account
_ACCOUNT_LINK = {"Task": "WhatId", "Opportunity": "AccountId"}
_LOCKED = "UNABLE_TO_LOCK_ROW"
_NUMBER_TYPES = frozenset({"double", "currency", "percent", "int", "long"})
_ENCODE = msgspec.json.Encoder(decimal_format="number").encode


@dataclass(frozen=True, slots=True)
class Credentials:
    """How revsync gets a token: ``client_credentials``, or ``password`` with a user."""

    flow: str
    client_id: str
    client_secret: str
    username: str | None = None
    password: str | None = None

    def form(self) -> dict[str, str]:
        form = {
            "grant_type": self.flow,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        if self.flow == "password":
            form |= {"username": self.username or "", "password": self.password or ""}
        return form


class SalesforceCrm:
    """:class:`~revsync.ports.crm.Crm` for a Salesforce org (or the sandbox)."""

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        fields: FieldMap,
        *,
        api_version: str = "59.0",
        ca_file: str | None = None,
        timeout_seconds: float = 30,
        budget_reserve_percent: float = 10,
        limit_pause_seconds: float = 900,
        lock_retries: int = 3,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._url = url.rstrip("/")
        self._credentials = credentials
        self._fields = fields
        self._version = api_version
        self._ca_file = ca_file
        self._timeout = timeout_seconds
        self._reserve = budget_reserve_percent / 100
        self._limit_pause = limit_pause_seconds
        self._lock_retries = lock_retries
        self._sleep = sleep
        self._client: Salesforce | None = None
        self._session: requests.Session | None = None
        self._budget: ApiBudget | None = None
        self._types: dict[str, dict[str, str]] = {}
        self._gate = asyncio.Lock()
        self._thread_lock = threading.Lock()

    # --- the port ----------------------------------------------------------------------

    async def pull(
        self,
        sobject: str,
        fields: Sequence[str],
        since: Watermark | None,
        *,
        overlap_seconds: float = 0,
    ) -> Pulled:
        wanted = list(dict.fromkeys(["Id", "SystemModstamp", "IsDeleted", *fields]))
        where = ""
        if since is not None:
            start = since.modstamp - timedelta(seconds=overlap_seconds)
            where = format_soql(" WHERE SystemModstamp >= {start}", start=start.astimezone(UTC))
        soql = format_soql(
            "SELECT {fields:literal} FROM {sobject:literal}{where:literal} "
            "ORDER BY SystemModstamp, Id",
            fields=", ".join(wanted),
            sobject=sobject,
            where=where,
        )
        rows = await self._call(
            lambda sf: list(sf.query_all_iter(soql, include_deleted=True)), "query"
        )
        records = [_record(row, wanted) for row in rows]
        if since is not None and not overlap_seconds:
            records = [r for r in records if r.watermark > since]
        records.sort(key=lambda r: r.watermark)
        return Pulled(records, records[-1].watermark if records else since)

    async def update_accounts(self, updates: Sequence[AccountUpdate]) -> list[UpdateResult]:
        for update in updates:
            self._check("Account", update.values)
        results: dict[int, UpdateResult] = {}
        pending = list(enumerate(updates))
        for attempt in range(self._lock_retries + 1):
            locked: list[tuple[int, AccountUpdate]] = []
            for start in range(0, len(pending), BATCH):
                chunk = pending[start : start + BATCH]
                answers = await self._composite("Account", [u for _, u in chunk])
                for (index, update), answer in zip(chunk, answers, strict=True):
                    outcome = _update_result(update.account_id, answer)
                    if not outcome.ok and _LOCKED in (outcome.error or ""):
                        locked.append((index, update))
                    results[index] = outcome
            pending = locked
            if not pending:
                break
            await self._sleep(0.2 * 2**attempt)
        return [results[i] for i in range(len(updates))]

    async def put_keyed(self, sobject: str, record: KeyedRecord) -> KeyedResult:
        self._check(sobject, record.values)
        found = await self.find_keyed(sobject, record.key)
        if found is not None:
            if record.values:
                body = await self._typed(sobject, dict(record.values))
                await self._call(
                    lambda sf: sf.restful(
                        f"sobjects/{sobject}/{found}", method="PATCH", data=_ENCODE(body)
                    ),
                    "update",
                )
            return KeyedResult(record.key, found, created=False)
        values = {
            **record.create_values,
            **record.values,
            KEY_FIELD: record.key,
            _ACCOUNT_LINK.get(sobject, "AccountId"): record.account_id,
        }
        body = await self._typed(sobject, values)
        try:
            created = await self._call(
                lambda sf: sf.restful(f"sobjects/{sobject}/", method="POST", data=_ENCODE(body)),
                "create",
            )
        except CrmRefused as error:
            if "DUPLICATE_VALUE" not in str(error):
                raise
            found = await self.find_keyed(sobject, record.key)  # created by a concurrent push
            if found is None:
                raise
            return KeyedResult(record.key, found, created=False)
        return KeyedResult(record.key, str(created["id"]), created=True)

    async def find_keyed(self, sobject: str, key: str) -> str | None:
        soql = format_soql(
            "SELECT Id FROM {sobject:literal} WHERE {field:literal} = {key} LIMIT 1",
            sobject=sobject,
            field=KEY_FIELD,
            key=key,
        )
        answer = await self._call(lambda sf: sf.query(soql), "query")
        records = answer.get("records") or []
        return str(records[0]["Id"]) if records else None

    async def read(self, sobject: str, record_id: str, fields: Sequence[str]) -> dict[str, Any]:
        found = await self._call(
            lambda sf: sf.restful(
                f"sobjects/{sobject}/{record_id}", params={"fields": ",".join(fields)}
            ),
            "read",
        )
        return {name: (found or {}).get(name) for name in fields}

    async def update_record(self, sobject: str, record_id: str, values: Mapping[str, Any]) -> None:
        self._check(sobject, values)
        body = await self._typed(sobject, dict(values))
        await self._call(
            lambda sf: sf.restful(
                f"sobjects/{sobject}/{record_id}", method="PATCH", data=_ENCODE(body)
            ),
            "update",
        )

    async def children(
        self, sobject: str, parent_field: str, parent_ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        ids = sorted(set(parent_ids))
        wanted = list(dict.fromkeys(["Id", parent_field, *fields]))
        for start in range(0, len(ids), _IDS_PER_QUERY):
            soql = format_soql(
                "SELECT {fields:literal} FROM {sobject:literal} WHERE {parent:literal} IN {ids} "
                "ORDER BY Id",
                fields=", ".join(wanted),
                sobject=sobject,
                parent=parent_field,
                ids=ids[start : start + _IDS_PER_QUERY],
            )
            records: list[dict[str, Any]] = await self._call(_query_all(soql), "query")
            for record in records:
                row = {name: _path(record, name) for name in wanted}
                found.setdefault(str(row[parent_field]), []).append(row)
        return found

    async def accounts(
        self, account_ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        ids = sorted(set(account_ids))
        for start in range(0, len(ids), _IDS_PER_QUERY):
            soql = format_soql(
                "SELECT Id, {fields:literal} FROM Account WHERE Id IN {ids}",
                fields=", ".join(sorted(set(fields))),
                ids=ids[start : start + _IDS_PER_QUERY],
            )
            records: list[dict[str, Any]] = await self._call(_query_all(soql), "query")
            for record in records:
                found[str(record["Id"])] = {name: record.get(name) for name in fields}
        return found

    def budget(self) -> ApiBudget | None:
        return self._budget

    async def aclose(self) -> None:
        if self._session is not None:
            self._session.close()
        self._session = None
        self._client = None

    # --- calls -------------------------------------------------------------------------

    async def _call(self, work: Callable[[Salesforce], Any], what: str) -> Any:
        """One call, in a thread, after pacing; renews the token once when it expired, and
        tries again (with backoff) while a record is locked."""
        async with self._gate:
            renewed, locked = False, 0
            while True:
                await self._pace()
                try:
                    return await asyncio.to_thread(self._run, work)
                except SalesforceExpiredSession:
                    if renewed:
                        raise CrmRefused("the CRM refused a fresh token") from None
                    renewed, self._client = True, None
                except SalesforceError as error:
                    if _is_locked(error) and locked < self._lock_retries:
                        await self._sleep(0.2 * 2**locked)
                        locked += 1
                        continue
                    raise _translated(error, what, self._limit_pause) from None
                except requests.Timeout as error:
                    raise CrmUnavailable(f"the CRM did not answer: {error}", sent=True) from None
                except requests.ConnectionError as error:
                    raise CrmUnavailable(f"the CRM is unreachable: {error}", sent=False) from None

    def _run(self, work: Callable[[Salesforce], Any]) -> Any:
        with self._thread_lock:
            client = self._client or self._connect()
            try:
                return work(client)
            finally:
                usage = client.api_usage.get("api-usage")
                if usage is not None:
                    self._budget = ApiBudget(int(usage.used), int(usage.total))

    def _connect(self) -> Salesforce:
        """A token from the CRM, and a client that uses it."""
        session = self._session or _TimeoutSession(self._timeout)
        if self._ca_file:
            # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's verify:
            # with a certificate named in the config, the environment is not consulted
            session.verify = self._ca_file
            session.trust_env = False
        self._session = session
        answer = session.post(f"{self._url}/services/oauth2/token", data=self._credentials.form())
        if answer.status_code != 200:
            raise CrmRefused(f"the CRM refused revsync's credentials (HTTP {answer.status_code})")
        token = answer.json()
        self._client = Salesforce(
            instance_url=str(token.get("instance_url") or self._url),
            session_id=str(token["access_token"]),
            session=session,
            version=self._version,
            parse_float=Decimal,
        )
        return self._client

    async def _pace(self) -> None:
        """Wait before a call when the daily budget is nearly spent: nothing above the reserve,
        then up to 5 s as the budget runs out."""
        budget = self._budget
        if budget is None or not budget.maximum or not self._reserve:
            return
        left = budget.remaining / budget.maximum
        if left < self._reserve:
            await self._sleep(5 * (1 - left / self._reserve))

    async def _composite(self, sobject: str, updates: Sequence[AccountUpdate]) -> list[Any]:
        records = [
            {"attributes": {"type": sobject}, "id": u.account_id, **u.values} for u in updates
        ]
        typed = [await self._typed(sobject, r) for r in records]
        body = _ENCODE({"allOrNone": False, "records": typed})
        answer = await self._call(
            lambda sf: sf.restful("composite/sobjects", method="PATCH", data=body), "update"
        )
        return list(answer or [])

    async def _typed(self, sobject: str, values: dict[str, Any]) -> dict[str, Any]:
        """Numbers the CRM keeps as numbers are sent as JSON numbers (exactly)."""
        types = await self._field_types(sobject)
        return {
            name: Decimal(value)
            if isinstance(value, str) and types.get(name) in _NUMBER_TYPES and value
            else value
            for name, value in values.items()
        }

    async def _field_types(self, sobject: str) -> dict[str, str]:
        if sobject not in self._types:
            described = await self._call(lambda sf: getattr(sf, sobject).describe(), "describe")
            self._types[sobject] = {f["name"]: f["type"] for f in described.get("fields", [])}
        return self._types[sobject]

    def _check(self, sobject: str, values: Mapping[str, Any]) -> None:
        try:
            self._fields.check_write(sobject, values)
        except InvalidField as error:
            raise OwnershipViolation(str(error)) from None


class _TimeoutSession(requests.Session):
    """A session whose every request has a timeout (simple-salesforce sets none)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return super().request(*args, **kwargs)


def _translated(error: SalesforceError, what: str, limit_pause: float) -> Exception:
    """A Salesforce error as the port's: refused (an operator must look) or unavailable."""
    codes = _codes(error.content)
    text = "; ".join(f"{code}: {message}" for code, message in codes) or str(error.content)
    if any(code == "REQUEST_LIMIT_EXCEEDED" for code, _ in codes):
        return CrmUnavailable(
            f"the CRM's request budget is spent ({text})",
            sent=False,
            retry_after=limit_pause,
        )
    if any(code == _LOCKED for code, _ in codes):
        return CrmUnavailable(
            f"a record was locked ({text})", sent=True, retry_after=1.0, outage=False
        )
    if isinstance(error, SalesforceRefusedRequest | SalesforceMalformedRequest):
        return CrmRefused(f"the CRM refused the {what}: {text}")
    if isinstance(error, SalesforceResourceNotFound):
        return CrmRefused(f"the CRM has no such record ({what}): {text}")
    status = getattr(error, "status", 0) or 0
    if status >= 500:
        away = status in (502, 503, 504)
        return CrmUnavailable(f"the CRM failed (HTTP {status}): {text}", sent=True, outage=away)
    return CrmRefused(f"the CRM answered HTTP {status} to the {what}: {text}")


def _is_locked(error: SalesforceError) -> bool:
    return any(code == _LOCKED for code, _ in _codes(error.content))


def _codes(content: Any) -> list[tuple[str, str]]:
    """(errorCode, message) pairs of a Salesforce error body."""
    items = content if isinstance(content, list) else [content]
    return [
        (str(i.get("errorCode") or i.get("statusCode") or ""), str(i.get("message") or ""))
        for i in items
        if isinstance(i, Mapping)
    ]


def _update_result(account_id: str, answer: Mapping[str, Any]) -> UpdateResult:
    if answer.get("success"):
        return UpdateResult(account_id, True)
    errors = answer.get("errors") or []
    text = "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in errors)
    return UpdateResult(account_id, False, text or "refused")


def _record(row: Mapping[str, Any], fields: Sequence[str]) -> CrmRecord:
    return CrmRecord(
        id=str(row["Id"]),
        modstamp=parse_datetime(str(row["SystemModstamp"])),
        deleted=bool(row.get("IsDeleted")),
        fields={name: row.get(name) for name in fields},
    )


def parse_datetime(text: str) -> datetime:
    """A Salesforce datetime (``2026-05-20T20:49:32.000+0000``) as an aware UTC datetime."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)


def _query_all(soql: str) -> Callable[[Salesforce], list[dict[str, Any]]]:
    """Every record a query finds, page after page."""
    return lambda sf: list(sf.query_all_iter(soql))


def _path(record: Mapping[str, Any], name: str) -> Any:
    """A field of a queried record, a parent's through its relationship (``Product2.Name``)."""
    value: Any = record
    for part in name.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value

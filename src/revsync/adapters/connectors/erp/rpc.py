"""Tryton's JSON-RPC over HTTP: sessions, values, and errors sorted into what they mean.

``POST /<database>/rpc/`` with ``{"id", "method", "params"}``. A session comes from
``common.db.login [login, {"password": …}, language]`` and travels as
``Authorization: Session base64(login:uid:session)``. Decimals, dates and datetimes travel as
``{"__class__": "Decimal", "decimal": "12.34"}`` and the like. An idle session expires; the
server then answers 401 and forgets it, so a call logs in again once and retries.
"""

from __future__ import annotations

import base64
import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import msgspec

from revsync.ports.erp import ErpUnavailable


class TrytonError(Exception):
    """A call failed; subclasses say how."""


class TrytonUnavailable(TrytonError, ErpUnavailable):
    """The server could not be reached, or gave no usable answer. ``sent`` tells whether the
    request may have reached it (a lost answer), which makes a write's outcome unknown. It is
    the port's :class:`ErpUnavailable` too, for callers of the client outside the adapter
    (provisioning)."""

    def __init__(self, message: str, *, sent: bool, outage: bool = True) -> None:
        super().__init__(message, sent=sent, outage=outage)


class TrytonAuthError(TrytonError):
    """The login was refused (wrong credentials, or too many attempts)."""


class TrytonAccessError(TrytonError):
    """The user may not call this method (missing access rights)."""


class TrytonUserError(TrytonError):
    """A business refusal (Tryton's UserError): the message says why."""

    def __init__(self, message: str, description: str = "") -> None:
        super().__init__(message if not description else f"{message} ({description})")
        self.message = message
        self.description = description


class TrytonUserWarning(TrytonError):
    """A warning the user must acknowledge (``res.user.warning.skip``) before retrying."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class TrytonServerError(TrytonError):
    """Any other error the server reported (a bug, a concurrency conflict…)."""


def encode(value: Any) -> Any:
    """A Python value as Tryton's JSON expects it."""
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, datetime):
        return {
            "__class__": "datetime",
            "year": value.year,
            "month": value.month,
            "day": value.day,
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, timedelta):
        return {"__class__": "timedelta", "seconds": value.total_seconds()}
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    """Tryton's JSON values as Python values."""
    if isinstance(value, dict):
        kind = value.get("__class__")
        if kind == "Decimal":
            return Decimal(value["decimal"])
        if kind == "date":
            return date(value["year"], value["month"], value["day"])
        if kind == "datetime":
            return datetime(
                value["year"],
                value["month"],
                value["day"],
                value.get("hour", 0),
                value.get("minute", 0),
                value.get("second", 0),
                value.get("microsecond", 0),
            )
        if kind == "timedelta":
            return timedelta(seconds=value["seconds"])
        if kind == "bytes":
            return base64.b64decode(value["base64"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


class TrytonRpc:
    """A JSON-RPC client for one database, logged in as one user."""

    def __init__(
        self,
        url: str,
        database: str,
        login: str,
        password: str,
        *,
        timeout: float = 30.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._endpoint = f"{url.rstrip('/')}/{database}/rpc/"
        self._login = login
        self._password = password
        self._client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._session: str | None = None
        self.uid: int | None = None  # the user's id, once logged in
        self._context: dict[str, Any] | None = None
        self._ids = itertools.count(1)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def context(self) -> dict[str, Any]:
        """The user's preferences (company, language…): the context of model calls."""
        if self._context is None:
            preferences = await self.call("model.res.user.get_preferences", [True, {}])
            self._context = dict(preferences)
        return dict(self._context)

    async def user_id(self) -> int:
        """The id of the user revsync logs in as."""
        if self.uid is None:
            await self.context()
        assert self.uid is not None
        return self.uid

    def forget_context(self) -> None:
        """Read the user's preferences again on the next call (after changing them)."""
        self._context = None

    async def model(
        self, model: str, method: str, *args: Any, context: dict[str, Any] | None = None
    ) -> Any:
        """``model.<model>.<method>(*args, context)``."""
        ctx = await self.context()
        if context:
            ctx.update(context)
        return await self.call(f"model.{model}.{method}", [*args, ctx])

    async def call(self, method: str, params: list[Any]) -> Any:
        """One call, logging in first (and once more if the session expired)."""
        if self._session is None:
            await self._log_in()
        try:
            return await self._post(method, params, authorised=True)
        except _Expired:
            self._session = None
            await self._log_in()
            return await self._post(method, params, authorised=True)

    async def _log_in(self) -> None:
        try:
            result = await self._post(
                "common.db.login",
                [self._login, {"password": self._password}, "en"],
                authorised=False,
            )
        except _Expired:
            raise TrytonAuthError(f"login as {self._login!r} refused") from None
        if not isinstance(result, list) or len(result) < 2:
            raise TrytonAuthError(f"login as {self._login!r} refused")
        uid, session = result[0], result[1]
        self.uid = int(uid)
        token = base64.b64encode(f"{self._login}:{uid}:{session}".encode()).decode()
        self._session = token

    async def _post(self, method: str, params: list[Any], *, authorised: bool) -> Any:
        body = msgspec.json.encode(
            {"id": next(self._ids), "method": method, "params": encode(params)}
        )
        headers = {"Content-Type": "application/json"}
        if authorised and self._session:
            headers["Authorization"] = f"Session {self._session}"
        try:
            response = await self._client.post(self._endpoint, content=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise TrytonUnavailable(f"{type(error).__name__}: {error}", sent=False) from None
        except httpx.TransportError as error:
            raise TrytonUnavailable(f"{type(error).__name__}: {error}", sent=True) from None
        if response.status_code == 401:
            raise _Expired
        if response.status_code == 403:
            raise TrytonAccessError(f"{method}: forbidden for {self._login!r} (HTTP 403)")
        if response.status_code == 429:
            raise TrytonAuthError("too many login attempts (HTTP 429)")
        if response.status_code >= 500:
            away = response.status_code in (502, 503, 504)
            raise TrytonUnavailable(f"HTTP {response.status_code}", sent=True, outage=away)
        try:
            data = msgspec.json.decode(response.content)
        except msgspec.DecodeError:
            raise TrytonUnavailable(f"HTTP {response.status_code}: not JSON", sent=True) from None
        failure = data.get("error") if isinstance(data, dict) else None
        if failure:
            raise _error(failure)
        return decode(data.get("result") if isinstance(data, dict) else None)


class _Expired(Exception):
    """The session is unknown to the server (expired or never made)."""


def _error(error: Any) -> TrytonError:
    """The exception for an ``"error"`` member of a JSON-RPC answer."""
    if isinstance(error, list) and error:
        kind = error[0]
        args = error[1] if len(error) > 1 and isinstance(error[1], list) else []
        if kind == "UserError":
            message = str(args[0]) if args else "refused"
            description = str(args[1]) if len(args) > 1 and args[1] else ""
            return TrytonUserError(message, description)
        if kind == "UserWarning":
            key = str(args[0]) if args else ""
            message = str(args[1]) if len(args) > 1 else "warning"
            return TrytonUserWarning(key, message)
        if kind in ("NotLogged", "LoginException"):
            return TrytonAuthError(str(kind))
        return TrytonServerError(f"{kind}: {args}")
    return TrytonServerError(str(error))

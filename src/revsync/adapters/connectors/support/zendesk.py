"""The support port for Zendesk's Support API (v2), over httpx.

Tickets are read by the time-based incremental export (``start_time`` in seconds, pages followed
to the end of the stream); Zendesk stamps changes to the second, so a read from a mark starts at
the mark's second and gives its tickets again. Organizations are read the same way. Fields are
mapped by role to ticket fields by title, resolved once from ``ticket_fields``. A comment
revsync makes carries its key on its last line (``[revsync:<key>]``): before adding one, the
ticket's comments are read, so a retry after a lost answer finds it instead of adding it twice.

Limits: every answer's rate-limit headers are read; a 429 is retriable after its
``Retry-After``, and when the window's budget is spent the next call waits for the reset.
Authentication: an API token (``{email}/token`` and the token, HTTP Basic).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import ssl
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from revsync.ports.support import (
    Comment,
    CommentResult,
    Organization,
    OwnershipViolation,
    RateBudget,
    SupportGone,
    SupportRefused,
    SupportUnavailable,
    Ticket,
    TicketMark,
    TicketsRead,
)

#: what revsync's tags begin with (the others are the agents')
TAG_PREFIX = "revsync_"
#: a key revsync puts in a comment: letters, digits and ``:._-`` (it closes the marker)
_KEY = re.compile(r"^[A-Za-z0-9:._-]{1,200}$")
_MARKER = re.compile(r"\[revsync:([A-Za-z0-9:._-]{1,200})\]\s*$")
_PAGE = 100
#: the type of the ticket field each of revsync's roles is written to (``provision``)
FIELD_TYPES = {
    "plan": "text",
    "renewal_date": "date",
    "overdue_amount": "decimal",
    "dunning_level": "text",
    "health_score": "integer",
    "credit_amount": "decimal",
    "credit_percent": "decimal",
    "credit_invoice": "text",
    "credit_reason": "textarea",
}


class ZendeskSupport:
    """:class:`~revsync.ports.support.Support` for a Zendesk account (or the sandbox)."""

    def __init__(
        self,
        url: str,
        email: str,
        token: str,
        fields: Mapping[str, str],
        owned: Collection[str],
        *,
        ca_file: str | None = None,
        timeout_seconds: float = 30,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        unknown = set(owned) - set(fields)
        if unknown:
            raise ValueError(f"owned roles without a field: {sorted(unknown)}")
        self._base = url.rstrip("/") + "/api/v2"
        self._fields = dict(fields)  # role → field title
        self._owned = frozenset(owned)
        self._sleep = sleep
        verify: ssl.SSLContext | bool = True
        if ca_file is not None:
            verify = ssl.create_default_context()
            verify.load_verify_locations(ca_file)
        self._client = httpx.AsyncClient(
            auth=httpx.BasicAuth(f"{email}/token", token),
            verify=verify,
            timeout=httpx.Timeout(timeout_seconds),
            headers={"Accept": "application/json"},
        )
        self._ids: dict[str, int] | None = None  # role → ticket field id
        self._budget: RateBudget | None = None
        self._reset_at: float | None = None  # loop time the spent window resets at

    # --- the port ----------------------------------------------------------------------

    async def tickets(self, since: TicketMark | None, *, overlap_seconds: float = 0) -> TicketsRead:
        ids = await self._field_ids()
        start = 0
        if since is not None:
            start = max(int((since.updated_at - timedelta(seconds=overlap_seconds)).timestamp()), 0)
        found: dict[int, Ticket] = {}
        url: str | None = f"{self._base}/incremental/tickets.json?start_time={start}"
        while url is not None:
            page = await self._json("GET", url)
            rows = page.get("tickets") or []
            for row in rows:
                ticket = _ticket(row, ids)
                held = found.get(ticket.id)
                if held is None or held.mark < ticket.mark:
                    found[ticket.id] = ticket
            url = None if page.get("end_of_stream", True) or not rows else page.get("next_page")
        tickets = sorted(found.values(), key=lambda t: t.mark)
        if since is not None and not overlap_seconds:  # the mark's second again (see the port)
            tickets = [t for t in tickets if t.updated_at >= since.updated_at]
        last = tickets[-1].mark if tickets else None
        return TicketsRead(tickets, max(last, since) if last and since else last or since)

    async def ticket(self, ticket_id: int) -> Ticket:
        answer = await self._json("GET", f"{self._base}/tickets/{int(ticket_id)}.json")
        return _ticket(answer["ticket"], await self._field_ids())

    async def organizations(self, since: datetime | None) -> list[Organization]:
        start = 0 if since is None else max(int(since.timestamp()), 0)
        found: dict[int, Organization] = {}
        url: str | None = f"{self._base}/incremental/organizations.json?start_time={start}"
        while url is not None:
            page = await self._json("GET", url)
            rows = page.get("organizations") or []
            for row in rows:
                found[int(row["id"])] = Organization(
                    int(row["id"]),
                    str(row.get("name") or ""),
                    row.get("external_id"),
                    _instant(row["updated_at"]),
                )
            url = None if page.get("end_of_stream", True) or not rows else page.get("next_page")
        return sorted(found.values(), key=lambda o: (o.updated_at, o.id))

    async def write_fields(self, ticket_id: int, values: Mapping[str, Any]) -> None:
        refused = sorted(set(values) - self._owned)
        if refused:
            raise OwnershipViolation(
                f"ticket fields {', '.join(refused)}: revsync may not write them"
            )
        if not values:
            return
        ids = await self._field_ids()
        body = {
            "ticket": {
                "custom_fields": [
                    {"id": ids[role], "value": _wire(value)} for role, value in values.items()
                ]
            }
        }
        await self._json("PUT", f"{self._base}/tickets/{int(ticket_id)}.json", body)

    async def put_comment(
        self, ticket_id: int, key: str, body: str, *, public: bool
    ) -> CommentResult:
        if not _KEY.match(key):
            raise ValueError(f"comment key {key!r}: letters, digits and ':._-' only")
        held = await self._keyed_comment(ticket_id, key)
        if held is not None:
            return CommentResult(key, held, created=False)
        marked = f"{body.rstrip()}\n\n[revsync:{key}]"
        await self._json(
            "PUT",
            f"{self._base}/tickets/{int(ticket_id)}.json",
            {"ticket": {"comment": {"body": marked, "public": public}}},
        )
        made = await self._keyed_comment(ticket_id, key)
        if made is None:  # answered, yet not there: the tool dropped it
            raise SupportUnavailable(
                f"ticket {ticket_id}: the comment {key} was accepted but is not on the ticket",
                sent=True,
                outage=False,
            )
        return CommentResult(key, made, created=True)

    async def comments(self, ticket_id: int) -> list[Comment]:
        found: list[Comment] = []
        url: str | None = f"{self._base}/tickets/{int(ticket_id)}/comments.json?per_page={_PAGE}"
        while url is not None:
            page = await self._json("GET", url)
            for row in page.get("comments") or []:
                text = str(row.get("plain_body") or row.get("body") or "")
                marker = _MARKER.search(text)
                found.append(
                    Comment(
                        int(row["id"]),
                        bool(row.get("public", True)),
                        text,
                        marker.group(1) if marker else None,
                        _instant(row["created_at"]),
                    )
                )
            url = page.get("next_page")
        return found

    async def tag(
        self, ticket_id: int, *, add: Collection[str] = (), remove: Collection[str] = ()
    ) -> None:
        refused = sorted(t for t in (*add, *remove) if not t.startswith(TAG_PREFIX))
        if refused:
            raise OwnershipViolation(
                f"tags {', '.join(refused)}: revsync writes only tags beginning {TAG_PREFIX!r}"
            )
        url = f"{self._base}/tickets/{int(ticket_id)}/tags.json"
        if add:
            await self._json("PUT", url, {"tags": sorted(add)})
        if remove:
            await self._json("DELETE", url, {"tags": sorted(remove)})

    def budget(self) -> RateBudget | None:
        return self._budget

    async def provision(self) -> list[str]:
        """Create the mapped ticket fields the tool lacks (by title, typed by role): those
        revsync writes, and those it reads; the titles created."""
        titles = await self._titles()
        created = []
        for role in sorted(self._fields):
            title = self._fields[role]
            if title in titles:
                continue
            whose = (
                "Written by revsync; agents read it."
                if role in self._owned
                else "Filled in by agents; revsync reads it."
            )
            field = {
                "type": FIELD_TYPES.get(role, "text"),
                "title": title,
                "description": f"{whose} ({role})",
            }
            await self._json("POST", f"{self._base}/ticket_fields.json", {"ticket_field": field})
            created.append(title)
        self._ids = None
        return created

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- the wire ----------------------------------------------------------------------

    async def _keyed_comment(self, ticket_id: int, key: str) -> int | None:
        for comment in await self.comments(ticket_id):
            if comment.key == key:
                return comment.id
        return None

    async def _field_ids(self) -> dict[str, int]:
        """Role → ticket field id, resolved by title once."""
        if self._ids is None:
            by_title = await self._titles()
            missing = sorted(t for t in self._fields.values() if t not in by_title)
            if missing:
                raise SupportRefused(
                    f"no ticket field titled {', '.join(map(repr, missing))} (revsync support "
                    "provision creates them)"
                )
            self._ids = {role: by_title[title] for role, title in self._fields.items()}
        return self._ids

    async def _titles(self) -> dict[str, int]:
        """Ticket field title → id (the first of a title)."""
        by_title: dict[str, int] = {}
        url: str | None = f"{self._base}/ticket_fields.json"
        while url is not None:
            page = await self._json("GET", url)
            for row in page.get("ticket_fields") or []:
                by_title.setdefault(str(row.get("title")), int(row["id"]))
            url = page.get("next_page")
        return by_title

    async def _json(self, method: str, url: str, body: Any = None) -> dict[str, Any]:
        """One call: waits first when the window's budget is spent; maps failures to the
        port's errors."""
        if self._reset_at is not None:
            pause = self._reset_at - asyncio.get_running_loop().time()
            self._reset_at = None
            if pause > 0:
                await self._sleep(pause)
        if not url.startswith(self._base + "/"):  # a next_page elsewhere is not followed
            raise SupportRefused(f"the support tool pointed to {url!r}, outside {self._base}")
        try:
            answer = await self._client.request(method, url, json=body)
        except httpx.ConnectError as error:
            raise SupportUnavailable(f"cannot connect: {error}", sent=False) from None
        except httpx.TimeoutException as error:
            sent = not isinstance(error, httpx.ConnectTimeout | httpx.PoolTimeout)
            reason = f"no answer in time ({type(error).__name__})"
            raise SupportUnavailable(reason, sent=sent) from None
        except httpx.TransportError as error:
            raise SupportUnavailable(f"connection failed: {error}", sent=True) from None
        self._note_budget(answer)
        if answer.status_code == 429:
            raise SupportUnavailable(
                "rate limited (HTTP 429)",
                sent=False,
                retry_after=_seconds(answer.headers.get("Retry-After")) or 60.0,
                outage=False,
            )
        if answer.status_code >= 500:
            raise SupportUnavailable(
                f"HTTP {answer.status_code}",
                sent=True,
                retry_after=_seconds(answer.headers.get("Retry-After")),
            )
        if answer.status_code == 404:
            raise SupportGone(_refusal(answer))
        if answer.status_code >= 400:
            raise SupportRefused(_refusal(answer))
        if not answer.content:
            return {}
        try:
            decoded = answer.json()
        except ValueError:
            reason = "an answer that is not JSON"
            raise SupportUnavailable(reason, sent=True, outage=False) from None
        return decoded if isinstance(decoded, dict) else {}

    def _note_budget(self, answer: httpx.Response) -> None:
        headers = answer.headers
        limit = headers.get("X-Rate-Limit") or headers.get("ratelimit-limit")
        remaining = headers.get("X-Rate-Limit-Remaining") or headers.get("ratelimit-remaining")
        if limit is None or remaining is None:
            return
        try:
            self._budget = RateBudget(int(remaining), int(limit))
        except ValueError:
            return
        reset = _seconds(headers.get("ratelimit-reset"))
        if self._budget.remaining <= 0 and reset:
            self._reset_at = asyncio.get_running_loop().time() + reset


def _ticket(row: Mapping[str, Any], ids: Mapping[str, int]) -> Ticket:
    by_id = {int(f["id"]): f.get("value") for f in row.get("custom_fields") or ()}
    fields = {role: by_id[i] for role, i in ids.items() if by_id.get(i) not in (None, "")}
    organization = row.get("organization_id")
    return Ticket(
        id=int(row["id"]),
        organization_id=None if organization is None else int(organization),
        subject=str(row.get("subject") or ""),
        status=str(row.get("status") or "new"),
        priority=row.get("priority"),
        tags=frozenset(row.get("tags") or ()),
        fields=fields,
        created_at=_instant(row["created_at"]),
        updated_at=_instant(row["updated_at"]),
    )


def _instant(text: str) -> datetime:
    found = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _wire(value: Any) -> Any:
    """A field value as the API takes it."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _seconds(text: str | None) -> float | None:
    try:
        return None if text is None else max(float(text), 0.0)
    except ValueError:
        return None


def _refusal(answer: httpx.Response) -> str:
    """The tool's words for a refusal: its error, description and field details."""
    try:
        body = answer.json()
    except ValueError:
        return f"HTTP {answer.status_code}"
    if not isinstance(body, dict):
        return f"HTTP {answer.status_code}"
    error = body.get("error")
    if isinstance(error, dict):  # some endpoints nest it
        error = error.get("title") or error.get("message")
    parts = [f"HTTP {answer.status_code}", str(error or "")]
    if body.get("description"):
        parts.append(str(body["description"]))
    details = body.get("details")
    if isinstance(details, dict):
        for field, problems in details.items():
            for problem in problems if isinstance(problems, list) else [problems]:
                text = problem.get("description") if isinstance(problem, dict) else problem
                parts.append(f"{field}: {text}")
    return "; ".join(p for p in parts if p)


def webhook_signed(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Whether a webhook's body carries the tool's signature: base64 of HMAC-SHA256 over the
    timestamp header and the body, keyed by the webhook's signing secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), signature.strip())

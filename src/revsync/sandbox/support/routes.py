"""The API's resources: each path under ``/api/v2/`` routed to a handler that reads the request's
JSON, calls the store-side function, and shapes the answer as Zendesk does."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from revsync.sandbox.replies import Reply
from revsync.sandbox.support import accounts, paging, tickets, webhooks
from revsync.sandbox.support.control import Control, Credentials
from revsync.sandbox.support.delivery import Delivery, Dispatcher
from revsync.sandbox.support.errors import bad_request, not_found, webhook_error
from revsync.sandbox.support.fields import save_field
from revsync.sandbox.support.store import Record, Store
from revsync.sandbox.support.tickets import TicketChange
from revsync.sandbox.support.values import MAX_ID

_MAX_IDS = 100


@dataclass
class SupportState:
    """What the app serves: the records, the controls, the delivery thread, the page sizes."""

    store: Store
    control: Control
    credentials: Credentials
    dispatcher: Dispatcher
    admin_id: int
    account_id: int
    base_url: str
    page_size: int = 100
    export_page_size: int = 1000
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def publish(self, change: TicketChange) -> None:
        """Queue the webhook deliveries a ticket change makes (after its commit)."""
        hooks = webhooks.listed(self.store) if change.changed else []
        if not any(hook["status"] == "active" for hook in hooks):
            return
        definitions = {int(f["id"]): f for f in self.store.all("ticket_field")}
        author = None
        if change.comment is not None:
            author = self.store.get("user", int(change.comment["author_id"]))
        now = self.clock()
        for event_type, event in webhooks.ticket_events(change, definitions, author):
            for hook in hooks:
                if not webhooks.wants(hook, event_type):
                    continue
                body = webhooks.event_body(event_type, event, change, self.account_id, now)
                self.dispatcher.enqueue(
                    Delivery(
                        number=0,
                        webhook_id=hook["id"],
                        endpoint=hook["endpoint"],
                        event_type=event_type,
                        event_id=body["id"],
                        ticket_id=int(change.after["id"]),
                        body=json.dumps(body, separators=(",", ":")).encode(),
                        secret=hook["secret"],
                    )
                )


@dataclass(frozen=True, slots=True)
class Call:
    """One authorised API request, routed."""

    state: SupportState
    method: str
    args: tuple[str, ...]
    params: dict[str, str]
    raw_body: bytes
    base: str

    @property
    def store(self) -> Store:
        return self.state.store

    def url(self, path: str) -> str:
        """The absolute URL of a path under ``/api/v2/``."""
        return f"{self.base}/api/v2/{path}"

    def member(self, name: str) -> dict[str, Any]:
        """The request body's ``name`` object (``{"ticket": {...}}``); 400 when absent."""
        try:
            payload = json.loads(self.raw_body) if self.raw_body.strip() else None
        except (ValueError, RecursionError):
            raise bad_request("The request body is not valid JSON", "InvalidJSON") from None
        inner = payload.get(name) if isinstance(payload, dict) else None
        if not isinstance(inner, dict):
            raise bad_request(f"The request body needs a {name} object")
        return inner

    def tag_list(self) -> Any:
        try:
            payload = json.loads(self.raw_body) if self.raw_body.strip() else None
        except (ValueError, RecursionError):
            raise bad_request("The request body is not valid JSON", "InvalidJSON") from None
        if not isinstance(payload, dict) or "tags" not in payload:
            raise bad_request("The request body needs a tags list")
        return payload["tags"]

    def record_id(self, index: int = 0) -> int:
        raw = self.args[index]
        if not raw.isdigit() or len(raw) > 19 or not 0 < int(raw) <= MAX_ID:
            raise not_found()
        return int(raw)


def _absolute(item: Any, base: str) -> Any:
    if isinstance(item, dict) and str(item.get("url", "")).startswith("/"):
        return {**item, "url": base + item["url"]}
    return item


def absolute(payload: Any, base: str) -> Any:
    """An answer with its records' ``url`` made absolute (records keep the path only)."""
    if not isinstance(payload, dict):
        return payload
    return {
        key: [_absolute(i, base) for i in value]
        if isinstance(value, list)
        else _absolute(value, base)
        for key, value in payload.items()
    }


def _page(call: Call, records: list[Record], key: str, path: str) -> Reply:
    page = paging.list_page(records, key, call.url(path), call.params, call.state.page_size)
    return Reply(200, page)


def _ids(call: Call, name: str) -> list[str]:
    raw = call.params.get(name, "")
    found = [part.strip() for part in raw.split(",") if part.strip()]
    if not found or len(found) > _MAX_IDS:
        raise bad_request(f"{name} lists 1 to {_MAX_IDS} values")
    return found


def _existing(call: Call, kind: str) -> Record:
    found = call.store.get(kind, call.record_id())
    if found is None:
        raise not_found()
    return found


# -- organizations ---------------------------------------------------------------------------------


def organizations(call: Call) -> Reply:
    if call.method == "POST":
        body = accounts.save_organization(call.store, call.member("organization"), None)
        return Reply(201, {"organization": body})
    return _page(call, call.store.all("organization"), "organizations", "organizations.json")


def organization(call: Call) -> Reply:
    current = _existing(call, "organization")
    if call.method == "DELETE":
        accounts.delete_organization(call.store, int(current["id"]))
        return Reply(204)
    if call.method == "PUT":
        current = accounts.save_organization(call.store, call.member("organization"), current)
    return Reply(200, {"organization": current})


def _matching(call: Call, kind: str, names: tuple[str, ...]) -> list[Record]:
    for name in names:
        value = call.params.get(name)
        if value:
            found = call.store.find_key(kind, name, value)
            record = None if found is None else call.store.get(kind, found)
            return [] if record is None else [record]
    raise bad_request(f"search by one of {', '.join(names)}")


def organization_search(call: Call) -> Reply:
    found = _matching(call, "organization", ("external_id", "name"))
    return _page(call, found, "organizations", "organizations/search.json")


def _show_many(call: Call, kind: str, key: str) -> Reply:
    if "ids" in call.params:
        wanted = [int(i) for i in _ids(call, "ids") if i.isdigit() and len(i) <= 19]
        found = [r for i in wanted if (r := call.store.get(kind, i)) is not None]
    else:
        found = []
        for value in _ids(call, "external_ids"):
            owner = call.store.find_key(kind, "external_id", value)
            record = None if owner is None else call.store.get(kind, owner)
            found += [] if record is None else [record]
    return Reply(200, {key: found, "next_page": None, "previous_page": None, "count": len(found)})


def organization_show_many(call: Call) -> Reply:
    return _show_many(call, "organization", "organizations")


def organization_tickets(call: Call) -> Reply:
    org = _existing(call, "organization")
    found = call.store.all("ticket", parent=int(org["id"]))
    fields = call.store.all("ticket_field")
    shown = [tickets.present(t, fields) for t in found]
    return _page(call, shown, "tickets", f"organizations/{org['id']}/tickets.json")


# -- users -----------------------------------------------------------------------------------------


def users(call: Call) -> Reply:
    if call.method == "POST":
        body = accounts.save_user(call.store, call.member("user"), None)
        return Reply(201, {"user": body})
    found = call.store.all("user")
    role = call.params.get("role") or call.params.get("role[]")
    if role:
        found = [u for u in found if u["role"] == role]
    return _page(call, found, "users", "users.json")


def user(call: Call) -> Reply:
    current = _existing(call, "user")
    if call.method == "PUT":
        current = accounts.save_user(call.store, call.member("user"), current)
    return Reply(200, {"user": current})


def me(call: Call) -> Reply:
    return Reply(200, {"user": call.store.get("user", call.state.admin_id)})


def user_search(call: Call) -> Reply:
    query = call.params.get("query", "").strip().casefold()
    if query:
        found = [
            u
            for u in call.store.all("user")
            if query in u["name"].casefold() or query in (u.get("email") or "")
        ]
    else:
        found = _matching(call, "user", ("external_id",))
    return _page(call, found, "users", "users/search.json")


def user_show_many(call: Call) -> Reply:
    return _show_many(call, "user", "users")


# -- ticket fields ---------------------------------------------------------------------------------


def ticket_fields(call: Call) -> Reply:
    if call.method == "POST":
        body = save_field(call.store, call.member("ticket_field"), None)
        return Reply(201, {"ticket_field": body})
    return _page(call, call.store.all("ticket_field"), "ticket_fields", "ticket_fields.json")


def ticket_field(call: Call) -> Reply:
    current = _existing(call, "ticket_field")
    if call.method == "PUT":
        current = save_field(call.store, call.member("ticket_field"), current)
    return Reply(200, {"ticket_field": current})


# -- tickets ---------------------------------------------------------------------------------------


def _changed(call: Call, change: TicketChange, status: int = 200) -> Reply:
    call.state.publish(change)
    fields = call.store.all("ticket_field")
    audit = {
        "id": call.store.last_seq(),
        "ticket_id": change.after["id"],
        "author_id": change.author_id,
        "created_at": change.after["updated_at"],
        "events": change.events,
        "metadata": {},
        "via": {"channel": "api"},
    }
    return Reply(status, {"ticket": tickets.present(change.after, fields), "audit": audit})


def tickets_(call: Call) -> Reply:
    if call.method == "POST":
        payload = call.member("ticket")
        change = tickets.create_ticket(call.store, payload, call.state.admin_id)
        return _changed(call, change, 201)
    fields = call.store.all("ticket_field")
    shown = [tickets.present(t, fields) for t in call.store.all("ticket")]
    return _page(call, shown, "tickets", "tickets.json")


def ticket(call: Call) -> Reply:
    ticket_id = call.record_id()
    if call.method == "DELETE":
        tickets.delete_ticket(call.store, ticket_id)
        return Reply(204)
    if call.method == "PUT":
        payload = call.member("ticket")
        return _changed(
            call, tickets.update_ticket(call.store, ticket_id, payload, call.state.admin_id)
        )
    current = _existing(call, "ticket")
    return Reply(200, {"ticket": tickets.present(current, call.store.all("ticket_field"))})


def ticket_show_many(call: Call) -> Reply:
    fields = call.store.all("ticket_field")
    wanted = [int(i) for i in _ids(call, "ids") if i.isdigit() and len(i) <= 19]
    found = [tickets.present(t, fields) for i in wanted if (t := call.store.get("ticket", i))]
    return Reply(
        200, {"tickets": found, "next_page": None, "previous_page": None, "count": len(found)}
    )


def ticket_tags(call: Call) -> Reply:
    ticket_id = call.record_id()
    if call.method == "GET":
        return Reply(200, {"tags": _existing(call, "ticket")["tags"]})
    mode = {"PUT": "add", "POST": "set", "DELETE": "remove"}[call.method]
    change = tickets.edit_tags(call.store, ticket_id, call.tag_list(), mode, call.state.admin_id)
    call.state.publish(change)
    return Reply(200, {"tags": change.after["tags"]})


def ticket_comments(call: Call) -> Reply:
    current = _existing(call, "ticket")
    found = call.store.all("comment", parent=int(current["id"]))
    shown = [{k: v for k, v in c.items() if k != "ticket_id"} for c in found]
    return _page(call, shown, "comments", f"tickets/{current['id']}/comments.json")


# -- incremental exports ---------------------------------------------------------------------------


def _export_size(call: Call) -> int:
    size = call.state.export_page_size
    return paging.number(call.params, "per_page", size, size)


def _start_time(call: Call) -> int:
    raw = call.params.get("start_time")
    if raw is None or not raw.isdigit() or len(raw) > 12:
        raise bad_request("start_time is required: a unix time in seconds")
    return int(raw)


def _time_export(call: Call, kind: str, key: str, path: str) -> Reply:
    start = _start_time(call)
    rows = call.store.changed_since(kind, start)
    if kind == "ticket":
        fields = call.store.all("ticket_field")
        rows = [(ts, tickets.present(t, fields)) for ts, t in rows]
    extra = {"per_page": call.params["per_page"]} if "per_page" in call.params else {}
    size = _export_size(call)
    return Reply(200, paging.time_export(rows, key, call.url(path), start, size, extra))


def _cursor_export(call: Call, kind: str, key: str, path: str) -> Reply:
    cursor = call.params.get("cursor")
    if cursor and "start_time" in call.params:
        raise bad_request("start_time and cursor cannot be combined")
    horizon = call.store.last_seq()
    if cursor:
        rows = call.store.changed_after(kind, paging.decode_cursor("seq", cursor), 0)
    else:
        rows = call.store.changed_after(kind, 0, _start_time(call))
    rows = [(seq, record) for seq, record in rows if seq <= horizon]
    if kind == "ticket":
        fields = call.store.all("ticket_field")
        rows = [(seq, tickets.present(t, fields)) for seq, t in rows]
    extra = {"per_page": call.params["per_page"]} if "per_page" in call.params else {}
    size = _export_size(call)
    return Reply(200, paging.cursor_export(rows, key, call.url(path), horizon, size, extra))


def incremental_tickets(call: Call) -> Reply:
    return _time_export(call, "ticket", "tickets", "incremental/tickets.json")


def incremental_tickets_cursor(call: Call) -> Reply:
    return _cursor_export(call, "ticket", "tickets", "incremental/tickets/cursor.json")


def incremental_users(call: Call) -> Reply:
    return _time_export(call, "user", "users", "incremental/users.json")


def incremental_users_cursor(call: Call) -> Reply:
    return _cursor_export(call, "user", "users", "incremental/users/cursor.json")


def incremental_organizations(call: Call) -> Reply:
    return _time_export(call, "organization", "organizations", "incremental/organizations.json")


# -- webhooks --------------------------------------------------------------------------------------


def webhooks_(call: Call) -> Reply:
    if call.method == "POST":
        body = webhooks.save_webhook(call.store, call.member("webhook"), None, call.state.admin_id)
        return Reply(201, {"webhook": webhooks.shown(body)})
    listed = [webhooks.shown(w) for w in webhooks.listed(call.store)]
    meta = {"has_more": False, "after_cursor": None, "before_cursor": None}
    return Reply(200, {"webhooks": listed, "meta": meta, "links": {"next": None, "prev": None}})


def _webhook(call: Call) -> Record:
    found = webhooks.load(call.store, call.args[0])
    if found is None:
        raise webhook_error(404, "WebhookNotFound", "Webhook not found")
    return found


def webhook(call: Call) -> Reply:
    current = _webhook(call)
    if call.method == "DELETE":
        stamp = call.store.stamp()
        call.store.put("webhook", {**current, "id": current["number"]}, stamp, deleted=True)
        return Reply(204)
    if call.method == "PUT":
        webhooks.save_webhook(call.store, call.member("webhook"), current, call.state.admin_id)
        return Reply(204)
    return Reply(200, {"webhook": webhooks.shown(current)})


def signing_secret(call: Call) -> Reply:
    current = _webhook(call)
    if call.method == "POST":
        current = webhooks.reset_secret(call.store, current)
    return Reply(200, {"signing_secret": {"secret": current["secret"], "algorithm": "SHA256"}})


#: (pattern of the path under /api/v2/, kind counted, methods, handler)
ROUTES: tuple[tuple[re.Pattern[str], str, frozenset[str], Callable[[Call], Reply]], ...] = tuple(
    (re.compile(pattern), kind, frozenset(methods.split()), handler)
    for pattern, kind, methods, handler in (
        (r"organizations\.json", "organizations", "GET POST", organizations),
        (r"organizations/search\.json", "organizations/search", "GET", organization_search),
        (
            r"organizations/show_many\.json",
            "organizations/show_many",
            "GET",
            organization_show_many,
        ),
        (r"organizations/(\w+)\.json", "organization", "GET PUT DELETE", organization),
        (r"organizations/(\w+)/tickets\.json", "organization/tickets", "GET", organization_tickets),
        (r"users\.json", "users", "GET POST", users),
        (r"users/me\.json", "users/me", "GET", me),
        (r"users/search\.json", "users/search", "GET", user_search),
        (r"users/show_many\.json", "users/show_many", "GET", user_show_many),
        (r"users/(\w+)\.json", "user", "GET PUT", user),
        (r"ticket_fields\.json", "ticket_fields", "GET POST", ticket_fields),
        (r"ticket_fields/(\w+)\.json", "ticket_field", "GET PUT", ticket_field),
        (r"tickets\.json", "tickets", "GET POST", tickets_),
        (r"tickets/show_many\.json", "tickets/show_many", "GET", ticket_show_many),
        (r"tickets/(\w+)\.json", "ticket", "GET PUT DELETE", ticket),
        (r"tickets/(\w+)/tags\.json", "ticket/tags", "GET PUT POST DELETE", ticket_tags),
        (r"tickets/(\w+)/comments\.json", "ticket/comments", "GET", ticket_comments),
        (r"incremental/tickets\.json", "incremental/tickets", "GET", incremental_tickets),
        (
            r"incremental/tickets/cursor\.json",
            "incremental/tickets/cursor",
            "GET",
            incremental_tickets_cursor,
        ),
        (r"incremental/users\.json", "incremental/users", "GET", incremental_users),
        (
            r"incremental/users/cursor\.json",
            "incremental/users/cursor",
            "GET",
            incremental_users_cursor,
        ),
        (
            r"incremental/organizations\.json",
            "incremental/organizations",
            "GET",
            incremental_organizations,
        ),
        (r"webhooks", "webhooks", "GET POST", webhooks_),
        (r"webhooks/(\w+)", "webhook", "GET PUT DELETE", webhook),
        (r"webhooks/(\w+)/signing_secret", "webhook/signing_secret", "GET POST", signing_secret),
    )
)


Route = tuple[str, tuple[str, ...], frozenset[str], Callable[[Call], Reply]]


def route(relative: str) -> Route | None:
    """(kind, path arguments, methods, handler) of a path under ``/api/v2/``, or None."""
    for pattern, kind, methods, handler in ROUTES:
        match = pattern.fullmatch(relative)
        if match:
            return kind, match.groups(), methods, handler
    return None

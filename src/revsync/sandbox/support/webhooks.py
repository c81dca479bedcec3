"""Webhooks: their registry (``/api/v2/webhooks``, kept in the store with their signing secrets)
and the events a ticket change makes, in the shape of Zendesk's event webhooks.

A webhook subscribed to ``conditional_ticket_events`` (which Zendesk fires from triggers, with
the trigger's body) gets every ticket event here, as if one trigger sent them all; the sandbox
has no triggers. Endpoints must be loopback addresses (``http`` or ``https``): the sandbox never
sends anything off the machine.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from revsync.sandbox.support.errors import webhook_error
from revsync.sandbox.support.fields import format_time_of
from revsync.sandbox.support.store import Record, Store
from revsync.sandbox.support.tickets import TicketChange
from revsync.sandbox.support.values import MAX_NAME

EVENT_VERSION = "2022-11-06"
TICKET_EVENTS = (
    "zen:event-type:ticket.created",
    "zen:event-type:ticket.status_changed",
    "zen:event-type:ticket.priority_changed",
    "zen:event-type:ticket.comment_added",
    "zen:event-type:ticket.tags_changed",
    "zen:event-type:ticket.custom_field_changed",
)
SUBSCRIPTIONS = ("conditional_ticket_events", *TICKET_EVENTS)
_ID = re.compile(r"01J(\d{23})")
_MAX_ENDPOINT = 2048


def public_id(number: int) -> str:
    """A webhook's id as the API shows it (26 characters, as Zendesk's ULIDs)."""
    return f"01J{number:023d}"


def number_of(webhook_id: str) -> int | None:
    """The stored number behind a webhook id, or None."""
    match = _ID.fullmatch(webhook_id)
    return int(match.group(1)) if match else None


def _refuse(detail: str, member: str) -> Exception:
    return webhook_error(400, "InvalidValue", detail, f"/webhook/{member}")


def check_endpoint(value: Any) -> str:
    """An http(s) URL on a loopback address; 400 otherwise."""
    if not isinstance(value, str) or not value or len(value) > _MAX_ENDPOINT:
        raise _refuse("endpoint is required (a URL)", "endpoint")
    try:
        parts = urlsplit(value)
        host, _ = parts.hostname, parts.port
    except ValueError:
        raise _refuse("endpoint is not a valid URL", "endpoint") from None
    if parts.scheme not in ("http", "https") or not host:
        raise _refuse("endpoint must be an http or https URL", "endpoint")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host.lower() == "localhost"
    if not loopback:
        raise _refuse("the sandbox only delivers to loopback endpoints", "endpoint")
    return value


def _member(payload: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = payload.get(name, default)
    if value not in allowed:
        raise _refuse(f"{name} must be one of {', '.join(allowed)}", name)
    return str(value)


def save_webhook(
    store: Store, payload: Mapping[str, Any], current: Record | None, actor_id: int
) -> Record:
    """Create (``current`` None) or replace a webhook from a request's ``webhook`` object."""
    name = payload.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise _refuse("name is required (at most 255 characters)", "name")
    subscriptions = payload.get("subscriptions", ["conditional_ticket_events"])
    if (
        not isinstance(subscriptions, list)
        or not subscriptions
        or any(s not in SUBSCRIPTIONS for s in subscriptions)
    ):
        raise _refuse(f"subscriptions are some of {', '.join(SUBSCRIPTIONS)}", "subscriptions")
    description = payload.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 1024):
        raise _refuse("description is a string", "description")
    body: Record = {
        "name": name,
        "description": description,
        "endpoint": check_endpoint(payload.get("endpoint")),
        "http_method": _member(payload, "http_method", ("POST",), "POST"),
        "request_format": _member(payload, "request_format", ("json",), "json"),
        "status": _member(payload, "status", ("active", "inactive"), "active"),
        "subscriptions": list(dict.fromkeys(subscriptions)),
    }
    with store.transaction():
        number = store.next_id("webhook") if current is None else int(current["number"])
        stamp = store.stamp()
        when = format_time_of(stamp)
        previous = current or {
            "created_at": when,
            "created_by": str(actor_id),
            "secret": secrets.token_urlsafe(36),
        }
        body.update(
            {
                "id": public_id(number),
                "number": number,
                "created_at": previous["created_at"],
                "created_by": previous["created_by"],
                "updated_at": when,
                "updated_by": str(actor_id),
                "secret": previous["secret"],
            }
        )
        store.put("webhook", {**body, "id": number}, stamp)
    return body


def load(store: Store, webhook_id: str) -> Record | None:
    """A webhook by its public id (with its secret), or None."""
    number = number_of(webhook_id)
    found = None if number is None else store.get("webhook", number)
    return None if found is None else {**found, "id": webhook_id}


def listed(store: Store) -> list[Record]:
    """Every webhook (with secrets), in creation order."""
    return [{**w, "id": public_id(int(w["id"]))} for w in store.all("webhook")]


def shown(webhook: Record) -> Record:
    """A webhook as the API shows it (no secret)."""
    return {k: v for k, v in webhook.items() if k not in ("secret", "number")}


# -- events --------------------------------------------------------------------------------------


def _upper(value: Any) -> str | None:
    return None if value is None else str(value).upper()


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _detail(ticket: Record, actor_id: int) -> Record:
    return {
        "actor_id": str(actor_id),
        "assignee_id": _str(ticket.get("assignee_id")),
        "brand_id": None,
        "created_at": ticket["created_at"],
        "description": ticket.get("description"),
        "external_id": ticket.get("external_id"),
        "form_id": None,
        "group_id": _str(ticket.get("group_id")),
        "id": str(ticket["id"]),
        "is_public": ticket.get("is_public", True),
        "organization_id": _str(ticket.get("organization_id")),
        "priority": _upper(ticket.get("priority")),
        "requester_id": _str(ticket.get("requester_id")),
        "status": _upper(ticket.get("status")),
        "subject": ticket.get("subject"),
        "submitter_id": _str(ticket.get("submitter_id")),
        "tags": list(ticket.get("tags", [])),
        "type": _upper(ticket.get("type")),
        "updated_at": ticket["updated_at"],
        "via": {"channel": "api"},
    }


def ticket_events(
    change: TicketChange, fields: Mapping[int, Record], author: Record | None
) -> list[tuple[str, Record]]:
    """(event type, the ``event`` member) for each thing a ticket change did."""
    before, after = change.before, change.after
    if before is None:
        return [("zen:event-type:ticket.created", {})]
    found: list[tuple[str, Record]] = []
    for name in ("status", "priority"):
        if before.get(name) != after.get(name):
            found.append(
                (
                    f"zen:event-type:ticket.{name}_changed",
                    {"current": _upper(after.get(name)), "previous": _upper(before.get(name))},
                )
            )
    if change.comment is not None:
        comment = change.comment
        found.append(
            (
                "zen:event-type:ticket.comment_added",
                {
                    "comment": {
                        "id": str(comment["id"]),
                        "body": comment["body"],
                        "is_public": comment["public"],
                        "author": {
                            "id": str(comment["author_id"]),
                            "is_staff": bool(author and author.get("role") != "end-user"),
                            "name": author.get("name") if author else None,
                        },
                    }
                },
            )
        )
    added = [t for t in after["tags"] if t not in before["tags"]]
    removed = [t for t in before["tags"] if t not in after["tags"]]
    if added or removed:
        found.append(
            ("zen:event-type:ticket.tags_changed", {"tags_added": added, "tags_removed": removed})
        )
    old = {int(i["id"]): i["value"] for i in before.get("custom_fields", [])}
    new = {int(i["id"]): i["value"] for i in after.get("custom_fields", [])}
    for field_id in sorted(old.keys() | new.keys()):
        if old.get(field_id) != new.get(field_id):
            definition = fields.get(field_id, {})
            custom = {
                "id": str(field_id),
                "title": definition.get("title"),
                "type": definition.get("type"),
            }
            event = {"current": new.get(field_id), "previous": old.get(field_id)}
            found.append(
                ("zen:event-type:ticket.custom_field_changed", {**event, "custom_field": custom})
            )
    return found


def event_body(
    event_type: str, event: Record, change: TicketChange, account_id: int, now: datetime
) -> Record:
    """The JSON a webhook receives for one event."""
    return {
        "type": event_type,
        "account_id": account_id,
        "id": str(uuid.uuid4()),
        "time": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "zendesk_event_version": EVENT_VERSION,
        "subject": f"zen:ticket:{change.after['id']}",
        "detail": _detail(change.after, change.author_id),
        "event": event,
    }


def wants(webhook: Record, event_type: str) -> bool:
    """Whether an active webhook is subscribed to an event type."""
    subscribed = webhook["subscriptions"]
    return webhook["status"] == "active" and (
        event_type in subscribed or "conditional_ticket_events" in subscribed
    )


def reset_secret(store: Store, webhook: Record) -> Record:
    """A new signing secret for a webhook; the webhook as saved."""
    with store.transaction():
        stamp = store.stamp()
        updated = {**webhook, "secret": secrets.token_urlsafe(36)}
        store.put("webhook", {**updated, "id": webhook["number"]}, stamp)
    return updated

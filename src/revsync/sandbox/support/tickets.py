"""Tickets and their comments: creation with a first comment, edits (fields, status, tags,
custom field values, a new public comment or internal note), tag edits and deletion, with
Zendesk's checks (a closed ticket is read-only; references exist; values fit their fields).

Each write returns a ``TicketChange`` — the ticket before and after, and the comment added —
from which the audit in the answer and the webhook events are made. An edit that changes
nothing writes nothing (``updated_at`` stays).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from revsync.sandbox.support.errors import invalid, not_found
from revsync.sandbox.support.fields import check_value, format_time_of
from revsync.sandbox.support.store import Record, Store
from revsync.sandbox.support.values import MAX_TEXT, choice, flag, reference, tags, text

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
TYPES = ("problem", "incident", "question", "task")
_TAG_MARKUP = re.compile(r"<[^>]{0,2000}>")
_MAX_CUSTOM_VALUES = 500
#: the ticket members an edit compares (what an audit lists as changes)
_TRACKED = (
    "subject",
    "status",
    "priority",
    "type",
    "tags",
    "organization_id",
    "requester_id",
    "assignee_id",
    "external_id",
    "custom_fields",
)


@dataclass(frozen=True, slots=True)
class TicketChange:
    """One write to a ticket: the ticket ``before`` (None: created) and ``after``, the comment
    added (or None), and who made it."""

    before: Record | None
    after: Record
    comment: Record | None
    author_id: int
    events: list[Record] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether anything was written."""
        return self.before is None or self.comment is not None or bool(self.events)


def _user(store: Store, value: Any, name: str, *, agent: bool = False) -> int | None:
    user_id = reference(value, name)
    if user_id is None:
        return None
    user = store.get("user", user_id)
    if user is None or (agent and user["role"] == "end-user"):
        raise invalid(name, f"{name.removesuffix('_id').capitalize()}: is invalid")
    return user_id


def _comment(
    store: Store, payload: Any, ticket_id: int, author_id: int, stamp_time: str
) -> Record | None:
    if payload is None:
        return None
    if not isinstance(payload, dict):
        raise invalid("comment", "Comment: is not an object")
    plain = text(payload, "body", limit=MAX_TEXT)
    markup = text(payload, "html_body", limit=MAX_TEXT)
    if not (plain or markup or "").strip():
        raise invalid("comment", "Comment: Body cannot be blank", "BlankValue")
    public = flag(payload, "public")
    author = _user(store, payload.get("author_id"), "author_id") or author_id
    if plain is None:
        assert markup is not None
        plain = html.unescape(_TAG_MARKUP.sub("", markup)).strip()
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in plain.split("\n\n"))
    return {
        "id": store.next_id("comment"),
        "type": "Comment",
        "author_id": author,
        "body": plain,
        "html_body": markup or f'<div class="zd-comment" dir="auto">{paragraphs}</div>',
        "plain_body": plain,
        "public": True if public is None else public,
        "attachments": [],
        "audit_id": None,
        "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
        "created_at": stamp_time,
        "metadata": {"system": {"client": "revsync sandbox"}, "custom": {}},
        "ticket_id": ticket_id,
    }


def _custom_values(store: Store, payload: Any, current: list[Record]) -> list[Record]:
    if payload is None:
        return current
    if not isinstance(payload, list) or len(payload) > _MAX_CUSTOM_VALUES:
        raise invalid("custom_fields", f"Custom fields: a list of at most {_MAX_CUSTOM_VALUES}")
    values = {int(item["id"]): item["value"] for item in current}
    for item in payload:
        if not isinstance(item, dict) or "id" not in item:
            raise invalid("custom_fields", "Custom fields: each is an object with an id")
        field_id = reference(item["id"], "custom_fields")
        assert field_id is not None
        definition = store.get("ticket_field", field_id)
        if definition is None or not definition["active"]:
            continue  # as Zendesk: values of unknown or inactive fields are ignored
        values[field_id] = check_value(definition, item.get("value"))
    return [{"id": i, "value": v} for i, v in sorted(values.items()) if v is not None]


def _tagger_tags(
    store: Store, before: list[Record], after: list[Record], tag_list: list[str]
) -> list[str]:
    """Drop-down values are tags while selected: swap the old value's tag for the new one's."""
    old = {int(i["id"]): i["value"] for i in before}
    new = {int(i["id"]): i["value"] for i in after}
    result = list(tag_list)
    for field_id in old.keys() | new.keys():
        if old.get(field_id) == new.get(field_id):
            continue
        definition = store.get("ticket_field", field_id)
        if definition is None or definition["type"] != "tagger":
            continue
        if old.get(field_id) in result:
            result.remove(old[field_id])
        if new.get(field_id) is not None and new[field_id] not in result:
            result.append(new[field_id])
    return result


def _apply(store: Store, body: Record, payload: Mapping[str, Any], creating: bool) -> None:
    """Copy the writable members of a request's ticket object onto ``body``."""
    subject = text(payload, "subject", limit=MAX_TEXT)
    if subject is not None or creating:
        body["subject"] = body["raw_subject"] = subject or ""
    for name, allowed in (("priority", PRIORITIES), ("type", TYPES)):
        if name in payload or creating:
            body[name] = choice(payload, name, allowed)
    if "status" in payload:
        status = choice(payload, "status", STATUSES)
        if status is None or (status == "new" and not creating and body["status"] != "new"):
            reason = "cannot be set to new again" if status else "cannot be blank"
            raise invalid("status", f"Status: {reason}")
        body["status"] = status
    if "external_id" in payload or creating:
        body["external_id"] = text(payload, "external_id")
    if "organization_id" in payload:
        org_id = reference(payload["organization_id"], "organization_id")
        if org_id is not None and store.get("organization", org_id) is None:
            raise invalid("organization_id", "Organization: is invalid")
        body["organization_id"] = org_id
    if "requester_id" in payload:
        body["requester_id"] = _user(store, payload["requester_id"], "requester_id") or body.get(
            "requester_id"
        )
    if "assignee_id" in payload:
        body["assignee_id"] = _user(store, payload["assignee_id"], "assignee_id", agent=True)
    tag_list = list(body.get("tags", []))
    if "tags" in payload:
        tag_list = tags(payload["tags"])
    for add in tags(payload.get("additional_tags"), "additional_tags"):
        if add not in tag_list:
            tag_list.append(add)
    removed = tags(payload.get("remove_tags"), "remove_tags")
    tag_list = [t for t in tag_list if t not in removed]
    before = list(body.get("custom_fields", []))
    after = _custom_values(store, payload.get("custom_fields", payload.get("fields")), before)
    body["custom_fields"] = after
    body["tags"] = _tagger_tags(store, before, after, tag_list)


def _events(before: Record | None, after: Record, comment: Record | None) -> list[Record]:
    events: list[Record] = []
    for name in _TRACKED:
        old = None if before is None else before.get(name)
        if before is None or old != after.get(name):
            kind = "Create" if before is None else "Change"
            event = {"type": kind, "field_name": name, "value": after.get(name)}
            if before is not None:
                event["previous_value"] = old
            events.append(event)
    if comment is not None:
        events.append({key: comment[key] for key in ("id", "type", "author_id", "body", "public")})
    return events


def create_ticket(store: Store, payload: Mapping[str, Any], actor_id: int) -> TicketChange:
    """Create a ticket; its first comment is ``comment`` (or ``description``)."""
    with store.transaction():
        ticket_id = store.next_id("ticket")
        stamp = store.stamp()
        when = format_time_of(stamp)
        first = payload.get("comment")
        if first is None and isinstance(payload.get("description"), str):
            first = {"body": payload["description"]}
        if first is None:
            raise invalid("description", "Description: cannot be blank", "BlankValue")
        requester = _user(store, payload.get("requester_id"), "requester_id") or actor_id
        body: Record = {
            "id": ticket_id,
            "url": f"/api/v2/tickets/{ticket_id}.json",
            "status": "new",
            "requester_id": requester,
            "submitter_id": actor_id,
            "assignee_id": None,
            "organization_id": None,
            "group_id": None,
            "tags": [],
            "custom_fields": [],
            "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": when,
        }
        _apply(store, body, payload, creating=True)
        if "organization_id" not in payload:
            requester_record = store.get("user", requester)
            body["organization_id"] = requester_record and requester_record.get("organization_id")
        if "status" not in payload and body["assignee_id"] is not None:
            body["status"] = "open"
        comment = _comment(store, first, ticket_id, actor_id, when)
        assert comment is not None
        body["description"] = comment["body"]
        body["is_public"] = comment["public"]
        body["updated_at"] = when
        store.put("comment", comment, stamp, parent=ticket_id)
        store.put("ticket", body, stamp, parent=body["organization_id"])
    return TicketChange(None, body, comment, actor_id, _events(None, body, comment))


def _current(store: Store, ticket_id: int) -> Record:
    body = store.get("ticket", ticket_id)
    if body is None:
        raise not_found()
    if body["status"] == "closed":
        raise invalid("status", "Status: closed prevents ticket update")
    return body


def _save(
    store: Store, before: Record, after: Record, comment_payload: Any, actor_id: int
) -> TicketChange:
    stamp_needed = after != before or comment_payload is not None
    if not stamp_needed:
        return TicketChange(before, before, None, actor_id)
    stamp = store.stamp()
    when = format_time_of(stamp)
    comment = _comment(store, comment_payload, int(after["id"]), actor_id, when)
    if comment is not None:
        store.put("comment", comment, stamp, parent=int(after["id"]))
    after["updated_at"] = when
    store.put("ticket", after, stamp, parent=after.get("organization_id"))
    return TicketChange(before, after, comment, actor_id, _events(before, after, comment))


def update_ticket(
    store: Store, ticket_id: int, payload: Mapping[str, Any], actor_id: int
) -> TicketChange:
    """Edit a ticket; ``comment`` adds a comment (``public: false``: an internal note)."""
    with store.transaction():
        before = _current(store, ticket_id)
        after = dict(before)
        _apply(store, after, payload, creating=False)
        return _save(store, before, after, payload.get("comment"), actor_id)


def edit_tags(store: Store, ticket_id: int, given: Any, mode: str, actor_id: int) -> TicketChange:
    """``add`` (PUT), ``remove`` (DELETE) or ``set`` (POST) a ticket's tags."""
    with store.transaction():
        before = _current(store, ticket_id)
        after = dict(before)
        wanted = tags(given)
        if mode == "set":
            after["tags"] = wanted
        elif mode == "add":
            after["tags"] = before["tags"] + [t for t in wanted if t not in before["tags"]]
        else:
            after["tags"] = [t for t in before["tags"] if t not in wanted]
        return _save(store, before, after, None, actor_id)


def delete_ticket(store: Store, ticket_id: int) -> None:
    """Delete a ticket: gone from reads, in the incremental export with status ``deleted``."""
    with store.transaction():
        body = store.get("ticket", ticket_id)
        if body is None:
            raise not_found()
        stamp = store.stamp()
        body["status"] = "deleted"
        body["updated_at"] = format_time_of(stamp)
        store.put("ticket", body, stamp, parent=body.get("organization_id"), deleted=True)


def present(body: Record, fields: list[Record]) -> Record:
    """A ticket as the API shows it: every active custom field listed, set or not."""
    values = {int(i["id"]): i["value"] for i in body.get("custom_fields", [])}
    listed = [{"id": f["id"], "value": values.get(int(f["id"]))} for f in fields if f["active"]]
    return {**body, "custom_fields": listed, "fields": listed}

"""Organizations and users: creation and edits with Zendesk's checks (names of organizations
and emails of users unique, external ids unique, references to existing records)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from revsync.sandbox.support.errors import invalid, not_found
from revsync.sandbox.support.fields import format_time_of
from revsync.sandbox.support.store import Record, Store
from revsync.sandbox.support.values import (
    MAX_TEXT,
    choice,
    flag,
    free_dict,
    reference,
    string_list,
    tags,
    text,
)

ROLES = ("end-user", "agent", "admin")


def _claim(store: Store, kind: str, field: str, old: Any, new: Any, owner: int) -> None:
    renamed = isinstance(new, str) and (old is None or new.casefold() != str(old).casefold())
    if renamed and store.find_key(kind, field, new) is not None:
        message = f"{field.replace('_', ' ').capitalize()}: {new} has already been taken"
        raise invalid(field, message, "DuplicateValue")
    if old != new:
        store.set_key(kind, field, old, new, owner)


def save_organization(store: Store, payload: Mapping[str, Any], current: Record | None) -> Record:
    """Create (``current`` None) or edit an organization from a request's object."""
    with store.transaction():
        org_id = store.next_id("organization") if current is None else int(current["id"])
        body: Record = dict(current or {})
        if current is None:
            body.update(
                {
                    "id": org_id,
                    "url": f"/api/v2/organizations/{org_id}.json",
                    "shared_tickets": False,
                    "shared_comments": False,
                    "group_id": None,
                    "deleted_at": None,
                }
            )
        name = text(payload, "name", required=current is None or "name" in payload)
        if name is not None:
            _claim(store, "organization", "name", body.get("name"), name.strip(), org_id)
            body["name"] = name.strip()
        if "external_id" in payload or current is None:
            external = text(payload, "external_id")
            _claim(store, "organization", "external_id", body.get("external_id"), external, org_id)
            body["external_id"] = external
        for field in ("details", "notes"):
            if field in payload or current is None:
                body[field] = text(payload, field, limit=MAX_TEXT)
        if "tags" in payload or current is None:
            body["tags"] = tags(payload.get("tags"))
        if "domain_names" in payload or current is None:
            body["domain_names"] = string_list(payload.get("domain_names"), "domain_names")
        if "organization_fields" in payload or current is None:
            merged = dict(body.get("organization_fields") or {})
            merged.update(free_dict(payload.get("organization_fields"), "organization_fields"))
            body["organization_fields"] = merged
        stamp = store.stamp()
        body.setdefault("created_at", format_time_of(stamp))
        body["updated_at"] = format_time_of(stamp)
        store.put("organization", body, stamp)
    return body


def delete_organization(store: Store, org_id: int) -> None:
    """Delete an organization (gone from reads; in the incremental export with ``deleted_at``)."""
    with store.transaction():
        body = store.get("organization", org_id)
        if body is None:
            raise not_found()
        stamp = store.stamp()
        store.set_key("organization", "name", body["name"], None, org_id)
        store.set_key("organization", "external_id", body.get("external_id"), None, org_id)
        body["deleted_at"] = body["updated_at"] = format_time_of(stamp)
        store.put("organization", body, stamp, deleted=True)


def save_user(store: Store, payload: Mapping[str, Any], current: Record | None) -> Record:
    """Create (``current`` None) or edit a user from a request's object."""
    with store.transaction():
        user_id = store.next_id("user") if current is None else int(current["id"])
        body: Record = dict(current or {})
        if current is None:
            body.update(
                {
                    "id": user_id,
                    "url": f"/api/v2/users/{user_id}.json",
                    "time_zone": "UTC",
                    "iana_time_zone": "Etc/UTC",
                    "locale": "en-US",
                    "locale_id": 1,
                    "active": True,
                    "suspended": False,
                    "shared": False,
                    "last_login_at": None,
                    "phone": None,
                }
            )
        name = text(payload, "name", required=current is None or "name" in payload)
        if name is not None:
            body["name"] = name
        if "email" in payload or current is None:
            email = text(payload, "email")
            if email is not None and ("@" not in email or " " in email):
                raise invalid("email", f"Email: {email[:60]} is not properly formatted")
            email = email.lower() if email else None
            _claim(store, "user", "email", body.get("email"), email, user_id)
            body["email"] = email
        if "external_id" in payload or current is None:
            external = text(payload, "external_id")
            _claim(store, "user", "external_id", body.get("external_id"), external, user_id)
            body["external_id"] = external
        if "role" in payload or current is None:
            body["role"] = choice(payload, "role", ROLES) or "end-user"
        if "organization_id" in payload or current is None:
            org_id = reference(payload.get("organization_id"), "organization_id")
            if org_id is not None and store.get("organization", org_id) is None:
                raise invalid("organization_id", "Organization: is invalid")
            body["organization_id"] = org_id
        verified = flag(payload, "verified")
        body["verified"] = verified if verified is not None else body.get("verified", False)
        for field in ("details", "notes"):
            if field in payload or current is None:
                body[field] = text(payload, field, limit=MAX_TEXT)
        if "tags" in payload or current is None:
            body["tags"] = tags(payload.get("tags"))
        if "user_fields" in payload or current is None:
            merged = dict(body.get("user_fields") or {})
            merged.update(free_dict(payload.get("user_fields"), "user_fields"))
            body["user_fields"] = merged
        stamp = store.stamp()
        body.setdefault("created_at", format_time_of(stamp))
        body["updated_at"] = format_time_of(stamp)
        store.put("user", body, stamp)
    return body

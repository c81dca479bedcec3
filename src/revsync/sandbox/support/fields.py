"""Custom ticket fields: their definitions (the defaults a connector maps onto), their creation
and edits, and the check of a ticket's value against its field's type.

Values come back as Zendesk returns them: integer and decimal values as strings of digits,
checkbox values as booleans, dates as ``YYYY-MM-DD``, drop-down (tagger) values as the option's
value — which is also a tag of the ticket while selected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from revsync.sandbox.support.errors import ApiError, invalid
from revsync.sandbox.support.store import Record, Stamp, Store
from revsync.sandbox.support.values import (
    MAX_NAME,
    MAX_TAG,
    MAX_TEXT,
    flag,
    format_time,
    from_unix,
    text,
)

FIELD_TYPES = ("text", "textarea", "integer", "decimal", "checkbox", "date", "tagger")
_INTEGER = re.compile(r"[+-]?\d{1,18}")
_DECIMAL = re.compile(r"[+-]?\d{1,18}(\.\d{1,10})?")
_DATE = re.compile(r"\d{4}-\d\d-\d\d")
_MAX_OPTIONS = 500


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A custom field to create: title, type, and (tagger) options as (name, value) pairs."""

    title: str
    type: str
    options: tuple[tuple[str, str], ...] = ()
    description: str = ""


#: the custom fields every new sandbox has, for a connector to map revsync's context onto
DEFAULT_CUSTOM_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "Plan",
        "tagger",
        (("Starter", "plan_starter"), ("Growth", "plan_growth"), ("Enterprise", "plan_enterprise")),
        "The customer's plan",
    ),
    FieldSpec("Renewal date", "date", description="When the contract renews"),
    FieldSpec("Overdue amount", "decimal", description="Unpaid invoices past due"),
    FieldSpec("Health score", "integer", description="Adoption against commitment, 0-100"),
    FieldSpec("Service credit", "checkbox", description="A service credit applies"),
    FieldSpec("Customer context", "textarea", description="Contract, usage and payment context"),
)


def _options(field_id: int, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value or len(value) > _MAX_OPTIONS:
        raise invalid("custom_field_options", "Custom field options: a drop-down needs options")
    options: list[dict[str, Any]] = []
    for number, item in enumerate(value, 1):
        if not isinstance(item, dict):
            raise invalid("custom_field_options", "Custom field options: each is an object")
        name = text(item, "name", required=True)
        tag = text(item, "value", limit=MAX_TAG, required=True)
        assert name is not None and tag is not None
        if any(o["value"] == tag for o in options) or " " in tag.strip():
            raise invalid("custom_field_options", f"Custom field options: bad value {tag!r}")
        options.append(
            {
                "id": field_id * 1000 + number,
                "name": name,
                "raw_name": name,
                "value": tag.strip().lower(),
                "default": bool(item.get("default", False)),
            }
        )
    return options


def save_field(store: Store, payload: Mapping[str, Any], current: Record | None) -> Record:
    """Create (``current`` None) or edit a custom ticket field from a request's object."""
    with store.transaction():
        field_id = store.next_id("ticket_field") if current is None else int(current["id"])
        stamp = store.stamp()
        body = dict(current or {})
        if current is None:
            kind = payload.get("type")
            if kind not in FIELD_TYPES:
                raise invalid("type", f"Type: is not one of {', '.join(FIELD_TYPES)}")
            body.update(
                {
                    "id": field_id,
                    "url": f"/api/v2/ticket_fields/{field_id}.json",
                    "type": kind,
                    "created_at": format_time_of(stamp),
                    "removable": True,
                    "required": False,
                    "position": 1000 + field_id % 1000,
                }
            )
        elif "type" in payload and payload["type"] != current["type"]:
            raise invalid("type", "Type: cannot be changed")
        title = text(payload, "title", required=current is None)
        if title is not None:
            body["title"] = body["raw_title"] = title
            body["title_in_portal"] = body["raw_title_in_portal"] = title
        description = text(payload, "description", limit=MAX_TEXT)
        if description is not None or current is None:
            body["description"] = body["raw_description"] = description or ""
        active = flag(payload, "active")
        body["active"] = active if active is not None else body.get("active", True)
        if body["type"] == "tagger" and ("custom_field_options" in payload or current is None):
            body["custom_field_options"] = _options(field_id, payload.get("custom_field_options"))
        body["updated_at"] = format_time_of(stamp)
        store.put("ticket_field", body, stamp)
    return body


def format_time_of(stamp: Stamp) -> str:
    """A stamp's second in the wire format."""
    return format_time(from_unix(stamp.ts))


def check_value(field: Record, value: Any) -> Any:
    """A ticket's value for ``field``, normalised; 422 naming the field when it does not fit."""
    if value is None or value == "":
        return None
    kind, title = field["type"], field["title"]

    def refuse(reason: str) -> ApiError:
        return invalid("base", f"{title}: {reason}", "InvalidValue", field_key=field["id"])

    if kind in ("text", "textarea"):
        if not isinstance(value, str):
            raise refuse("is not text")
        if len(value) > (MAX_NAME if kind == "text" else MAX_TEXT):
            raise refuse("is too long")
        return value
    if kind == "checkbox":
        if not isinstance(value, bool):
            raise refuse("is not true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise refuse(f"is not a valid {kind}")
    raw = str(value).strip()
    if kind == "integer":
        if isinstance(value, float) or not _INTEGER.fullmatch(raw):
            raise refuse("is not a number")
        return str(int(raw))
    if kind == "decimal":
        if not _DECIMAL.fullmatch(raw):
            raise refuse("is not a number")
        try:
            return str(Decimal(raw))
        except InvalidOperation:
            raise refuse("is not a number") from None
    if kind == "date":
        try:
            day = date.fromisoformat(raw) if _DATE.fullmatch(raw) else None
        except ValueError:
            day = None
        if day is None:
            raise refuse("is not a date (YYYY-MM-DD)")
        return day.isoformat()
    options = [o["value"] for o in field.get("custom_field_options", [])]
    if raw not in options:
        raise refuse(f"{raw[:40]} is not one of the options")
    return raw

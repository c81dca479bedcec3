"""The demo's support desk: the support sandbox's organizations and tickets as a support team
makes them, a service credit asked on a ticket, and the self-check that reads the tickets back
— all over Zendesk's REST API with plain HTTPS requests (the API's independent client, zenpy,
is GPLv3 and stays out of revsync's installs; revsync's own adapter is what is checked)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
import sqlalchemy as sa

from revsync.adapters.db.tables import (
    collections,
    erp_postings,
    outbox_messages,
    support_credits,
    support_tickets,
)
from revsync.bootstrap import Container
from revsync.domain.collections import COLLECTIONS_TAG
from revsync.sandbox.support import SupportSandbox


class Desk:
    """The support tool's REST API, as the support team's scripts would call it."""

    def __init__(self, sandbox: SupportSandbox) -> None:
        self._base = f"{sandbox.url}/api/v2"
        self._session = requests.Session()
        self._session.verify = str(sandbox.cert_path)
        self._session.trust_env = False
        creds = sandbox.credentials
        self._session.auth = (f"{creds.email}/token", creds.token)

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        answer = self._session.request(method, f"{self._base}/{path}", json=body, timeout=30)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def organization(self, name: str, external_id: str) -> int:
        body = {"organization": {"name": name, "external_id": external_id}}
        return int(self._call("POST", "organizations.json", body)["organization"]["id"])

    def ticket(self, subject: str, organization_id: int, body: str, priority: str) -> int:
        ticket = {
            "subject": subject,
            "comment": {"body": body},
            "organization_id": organization_id,
            "priority": priority,
        }
        return int(self._call("POST", "tickets.json", {"ticket": ticket})["ticket"]["id"])

    def read(self, ticket_id: int) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", f"tickets/{ticket_id}.json")["ticket"]
        return found

    def comments(self, ticket_id: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        path: str | None = f"tickets/{ticket_id}/comments.json"
        while path:
            page = self._call("GET", path)
            found += page["comments"]
            following = page.get("next_page")
            path = following.split("/api/v2/", 1)[1] if following else None
        return found

    def field_ids(self) -> dict[str, int]:
        """The ticket fields by title."""
        fields = self._call("GET", "ticket_fields.json")["ticket_fields"]
        return {str(f["title"]): int(f["id"]) for f in fields}

    def update(
        self, ticket_id: int, values: Mapping[str, Any], add_tags: Iterable[str] = ()
    ) -> None:
        """An agent edits a ticket: field values by title, and tags added."""
        ids = self.field_ids()
        ticket: dict[str, Any] = {
            "custom_fields": [{"id": ids[title], "value": v} for title, v in values.items()]
        }
        if add_tags:
            ticket["tags"] = sorted({*self.read(ticket_id).get("tags", []), *add_tags})
        self._call("PUT", f"tickets/{ticket_id}.json", {"ticket": ticket})

    def close(self) -> None:
        self._session.close()


@dataclass(slots=True)
class DeskCheck:
    """What the self-check compared on the support tool."""

    tickets: int = 0
    credits: int = 0
    flags: int = 0
    mismatches: list[str] = field(default_factory=list)


def check_desk(container: Container, desk: Desk) -> DeskCheck:
    """Every ticket revsync enriched holds the fields and the note revsync last sent it; every
    issued service credit's ticket has the public comment with the credit note's ERP number;
    the collections tag is on the open tickets of exactly the customers whose standing flags
    them — each read over the support tool's API."""
    check = DeskCheck()
    titles = {str(k): v for k, v in container.settings.support.fields.items()}
    names = {v: k for k, v in desk.field_ids().items()}
    sent = _last_contexts(container)
    for ticket_id, payload in sorted(sent.items()):
        ticket = desk.read(ticket_id)
        check.tickets += 1
        held = {
            names.get(int(f["id"])): f["value"]
            for f in ticket.get("custom_fields", [])
            if f.get("value") is not None
        }
        for role, value in payload["fields"].items():
            found = held.get(titles[role])
            if value is not None and str(found) != str(value):
                check.mismatches.append(
                    f"ticket {ticket_id}: field {titles[role]!r} holds {found!r}, revsync sent "
                    f"{value!r}"
                )
        key = f"[revsync:{payload['note_key']}]"
        if not any(key in c["body"] and not c["public"] for c in desk.comments(ticket_id)):
            check.mismatches.append(f"ticket {ticket_id}: no internal note {key}")
    for ticket_id, erp_number in _issued_credits(container):
        check.credits += 1
        public = [c["body"] for c in desk.comments(ticket_id) if c["public"]]
        if not any(f"ERP number {erp_number}" in body for body in public):
            check.mismatches.append(
                f"ticket {ticket_id}: no public comment naming credit note {erp_number}"
            )
    flagged = _flagged(container)
    for ticket_id, customer_id in _open_tickets(container):
        tagged = COLLECTIONS_TAG in desk.read(ticket_id).get("tags", [])
        if tagged != (customer_id in flagged):
            check.mismatches.append(
                f"ticket {ticket_id} of {customer_id}: tagged {COLLECTIONS_TAG} {tagged}, "
                f"revsync's standing flags it {customer_id in flagged}"
            )
        check.flags += tagged
    return check


def _last_contexts(container: Container) -> dict[int, dict[str, Any]]:
    m = outbox_messages.c
    query = (
        sa.select(m.object_id, m.payload)
        .where(m.kind == "ticket.context", m.status == "delivered")
        .order_by(m.id)
    )
    with container.engine.connect() as conn:
        return {int(row.object_id): dict(row.payload) for row in conn.execute(query)}


def _issued_credits(container: Container) -> list[tuple[int, str]]:
    c, p = support_credits.c, erp_postings.c
    query = (
        sa.select(c.ticket_id, p.number)
        .join(erp_postings, p.invoice_id == c.credit_note_id)
        .where(c.status == "issued")
        .order_by(c.ticket_id)
    )
    with container.engine.connect() as conn:
        return [(int(row.ticket_id), str(row.number)) for row in conn.execute(query)]


def _flagged(container: Container) -> set[str]:
    query = sa.select(collections.c.customer_id).where(collections.c.flagged == sa.true())
    with container.engine.connect() as conn:
        return {str(row.customer_id) for row in conn.execute(query)}


def _open_tickets(container: Container) -> Iterable[tuple[int, str]]:
    t = support_tickets.c
    query = (
        sa.select(t.ticket_id, t.customer_id)
        .where(t.customer_id.is_not(None), t.status.not_in(["solved", "closed", "deleted"]))
        .order_by(t.ticket_id)
    )
    with container.engine.connect() as conn:
        return [(int(row.ticket_id), str(row.customer_id)) for row in conn.execute(query)]

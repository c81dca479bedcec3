"""The support tool as an outbox destination: a ticket's context becomes revsync's ticket
fields, its tags (a customer flagged as escalating) and an internal note; a comment (a service
credit's steps) a note or a public reply. Each comment is made once under its key.

Writing the same field values twice changes nothing, and a keyed comment is looked for before
it is made, so a resend after a lost answer is safe: the destination needs no lookup by key.
A ticket closed or deleted meanwhile is skipped, recorded (the context is for open tickets);
any other refusal fails the message for an operator (a case).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from revsync.domain.delivery import Attempt, ErrorClass, OutboundMessage
from revsync.ports.remote import unavailable_attempt
from revsync.ports.support import (
    TICKET_COMMENT,
    TICKET_CONTEXT,
    Support,
    SupportGone,
    SupportRefused,
    SupportUnavailable,
)

#: what the support tool hears of
SUPPORT_KINDS = (TICKET_CONTEXT, TICKET_COMMENT)


class SupportDestination:
    """:class:`~revsync.ports.delivery.Destination` that writes to a support tool."""

    def __init__(self, support: Support) -> None:
        self._support = support

    async def send(self, message: OutboundMessage) -> Attempt:
        try:
            if message.kind == TICKET_CONTEXT:
                return await self._context(message.payload)
            if message.kind == TICKET_COMMENT:
                return await self._comment(message.payload)
            return Attempt.failed(
                ErrorClass.SKIPPABLE, f"the support tool does not take {message.kind}"
            )
        except SupportUnavailable as error:
            return unavailable_attempt(error)
        except SupportRefused as error:
            return Attempt.failed(ErrorClass.FATAL, str(error))
        except (KeyError, TypeError, ValueError) as error:
            return Attempt.failed(ErrorClass.FATAL, f"cannot map to the support tool: {error!r}")

    async def _context(self, payload: Mapping[str, Any]) -> Attempt:
        ticket_id = int(payload["ticket_id"])
        try:
            ticket = await self._support.ticket(ticket_id)
        except SupportGone:
            return Attempt.failed(ErrorClass.SKIPPABLE, f"ticket {ticket_id} is gone (deleted)")
        if ticket.status == "closed":
            return Attempt.failed(
                ErrorClass.SKIPPABLE, f"ticket {ticket_id} is closed: its context is not written"
            )
        await self._support.write_fields(ticket_id, dict(payload["fields"]))
        tags = payload.get("tags") or {}
        add = [t for t in tags.get("add", ()) if t not in ticket.tags]
        remove = [t for t in tags.get("remove", ()) if t in ticket.tags]
        if add or remove:
            await self._support.tag(ticket_id, add=add, remove=remove)
        note = await self._support.put_comment(
            ticket_id, str(payload["note_key"]), str(payload["note"]), public=False
        )
        return Attempt.ok(f"ticket {ticket_id}, note {note.comment_id}")

    async def _comment(self, payload: Mapping[str, Any]) -> Attempt:
        ticket_id = int(payload["ticket_id"])
        try:
            ticket = await self._support.ticket(ticket_id)
        except SupportGone:
            return Attempt.failed(ErrorClass.SKIPPABLE, f"ticket {ticket_id} is gone (deleted)")
        if ticket.status == "closed":  # a closed ticket takes no comment
            return Attempt.failed(ErrorClass.SKIPPABLE, f"ticket {ticket_id} is closed")
        made = await self._support.put_comment(
            ticket_id, str(payload["key"]), str(payload["body"]), public=bool(payload["public"])
        )
        return Attempt.ok(f"ticket {ticket_id}, comment {made.comment_id}")

    async def find_by_key(self, key: str) -> Attempt | None:
        return None  # every send is safe to repeat (see the module docstring)

    async def aclose(self) -> None:
        await self._support.aclose()

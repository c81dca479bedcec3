"""Sessions of the operations console: an API key signs in once, the browser then holds a
random token in a cookie. Only the token's hash is stored; the session ends at its expiry, at
sign-out, or as soon as its key is revoked."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from revsync.application.apikeys import ApiKeys
from revsync.domain.apikeys import ApiKey, Role
from revsync.domain.audit import AuditRecord
from revsync.domain.delivery import CaseStatus
from revsync.ports.clock import Clock, IdSource
from revsync.ports.console import ConsoleSession
from revsync.ports.delivery import Case, CaseFilter
from revsync.ports.erp import PostingRecord
from revsync.ports.repositories import UnitOfWorkFactory


class SignInRefused(Exception):
    """The key presented cannot sign in to the console (the message says why)."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A session and the key behind it; ``token`` only on sign-in (the cookie's value)."""

    session: ConsoleSession
    key: ApiKey
    token: str = ""

    def accepts(self, presented: str) -> bool:
        """Whether a form's token is this session's (compared in constant time)."""
        return hmac.compare_digest(presented.encode(), self.session.csrf.encode())


def token_hash(token: str) -> str:
    """The stored form of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


class ConsoleSessions:
    """Sign in, resume and sign out console sessions."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        ids: IdSource,
        keys: ApiKeys,
        lifetime: timedelta,
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._ids = ids
        self._keys = keys
        self._lifetime = lifetime

    def sign_in(self, presented: str) -> SignedIn:
        """A new session for an active key with the ``read`` role that reaches every
        customer (the console shows everyone's data); audited."""
        key = self._keys.authenticate(presented.strip())
        if key is None:
            raise SignInRefused("invalid or revoked API key")
        if not key.allows(Role.READ):
            raise SignInRefused("this API key lacks the 'read' role the console needs")
        if key.limited:
            raise SignInRefused(
                "this API key is limited to some customers, and the console shows every "
                "customer's data"
            )
        now = self._clock.now()
        token = self._ids.new_secret()
        session = ConsoleSession(
            token_hash(token), key.id, self._ids.new_secret(), now, now + self._lifetime
        )
        with self._uow() as uow:
            uow.console_sessions.drop_expired(now)
            uow.console_sessions.add(session)
            uow.audit.append(self._record(key, "console.signed_in", session))
            uow.commit()
        return SignedIn(session, key, token)

    def resume(self, token: str) -> SignedIn | None:
        """The live session holding ``token`` and its key, else None (unknown, ended, or its
        key revoked)."""
        if not token:
            return None
        with self._uow(write=False) as uow:
            session = uow.console_sessions.get(token_hash(token))
            key = None if session is None else uow.api_keys.get(session.key_id)
        if session is None or key is None or not key.active:
            return None
        if session.expires_at <= self._clock.now():
            return None
        return SignedIn(session, key)

    def sign_out(self, signed_in: SignedIn) -> None:
        """End a session now; audited."""
        with self._uow() as uow:
            if uow.console_sessions.drop(signed_in.session.token_hash):
                uow.audit.append(
                    self._record(signed_in.key, "console.signed_out", signed_in.session)
                )
            uow.commit()

    def _record(self, key: ApiKey, action: str, session: ConsoleSession) -> AuditRecord:
        # the session is named by the start of its token's hash: enough to tell sessions
        # apart in the log, useless to take one over
        after = {
            "session": session.token_hash[:12],
            "expires_at": session.expires_at.isoformat(),
        }
        return AuditRecord(
            self._clock.now(), f"api_key:{key.id}", action, "api_key", key.id, None, after
        )


class ConsoleViews:
    """What the console's pages show beside what the API's services answer: ERP postings,
    the signals last pushed to the CRM, and the open cases about a customer."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._uow = unit_of_work

    def postings(self, invoice_ids: Sequence[str]) -> dict[str, PostingRecord]:
        """The ERP postings of these invoices, by invoice id (those not posted are left out)."""
        if not invoice_ids:
            return {}
        with self._uow(write=False) as uow:
            return uow.postings.many(invoice_ids)

    def signals(self, customer_id: str) -> dict[str, Any] | None:
        """The values revsync last pushed to the customer's CRM account, if any."""
        with self._uow(write=False) as uow:
            return uow.crm.pushed(customer_id)

    def open_cases(self, object_ids: Collection[str], limit: int = 100) -> list[Case]:
        """Open cases about any of these objects (a customer and its invoices)."""
        where = CaseFilter(status=CaseStatus.OPEN, object_ids=frozenset(object_ids))
        with self._uow(write=False) as uow:
            return uow.cases.page(where, after=None, limit=limit)

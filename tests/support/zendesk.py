"""The support sandbox, revsync's Zendesk adapter wired to it, and the independent client
(zenpy) tests arrange and check with."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import requests
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, Ticket

from revsync.adapters.connectors.support.zendesk import ZendeskSupport
from revsync.config import SupportSettings
from revsync.domain.support import CREDIT_ROLES
from revsync.sandbox.support import SupportSandbox

T = TypeVar("T")
#: the ticket fields by role, as configured by default: revsync owns all but the credit ones
FIELDS = {str(role): title for role, title in SupportSettings().fields.items()}
OWNED = {role: title for role, title in FIELDS.items() if role not in CREDIT_ROLES}


def zenpy_for(sandbox: SupportSandbox) -> Zenpy:
    """zenpy pointed at the sandbox: it builds ``https://{subdomain}.{domain}/api/v2``, so
    subdomain ``127`` and domain ``0.0.1:PORT`` make the loopback address; no cache, so every
    read asks the sandbox."""
    session = requests.Session()
    session.verify = str(sandbox.cert_path)
    session.trust_env = False
    return Zenpy(
        subdomain="127",
        domain=f"0.0.1:{sandbox.port}",
        email=sandbox.credentials.email,
        token=sandbox.credentials.token,
        session=session,
        disable_cache=True,
    )


def adapter(sandbox: SupportSandbox, *, token: str | None = None, **options: Any) -> ZendeskSupport:
    """revsync's adapter for the sandbox (``token``: another API token; ``options``: the
    adapter's keyword arguments)."""
    return ZendeskSupport(
        sandbox.url,
        sandbox.credentials.email,
        token or sandbox.credentials.token,
        options.pop("fields", FIELDS),
        options.pop("owned", OWNED),
        ca_file=str(sandbox.cert_path),
        **options,
    )


def with_support(
    sandbox: SupportSandbox, work: Callable[[ZendeskSupport], Awaitable[T]], **options: Any
) -> T:
    """Run ``work`` with a fresh adapter (``options`` as for :func:`adapter`), then close it."""

    async def run() -> T:
        support = adapter(sandbox, **options)
        try:
            return await work(support)
        finally:
            await support.aclose()

    return asyncio.run(run())


class Clock:
    """The time the sandbox stamps its records with, moved by the test (Zendesk stamps to the
    second: records made in one second share it)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1) -> None:
        self.now += timedelta(seconds=seconds)


def new_ticket(zenpy: Zenpy, subject: str = "Help", **members: Any) -> Ticket:
    """A ticket made by the independent client, with its first comment."""
    return zenpy.tickets.create(
        Ticket(subject=subject, comment=Comment(body="first"), **members)
    ).ticket

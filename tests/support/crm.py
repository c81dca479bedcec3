"""The CRM sandbox and revsync's Salesforce adapter wired to it, for tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import requests
from simple_salesforce.api import Salesforce

from revsync.adapters.connectors.crm.salesforce import Credentials, SalesforceCrm
from revsync.config import CrmSettings
from revsync.sandbox.crm import CrmSandbox

T = TypeVar("T")
#: the field map revsync uses by default (every test sandbox has its fields)
FIELDS = CrmSettings(url="https://127.0.0.1:1").field_map()


class Sleeps:
    """A sleep that records how long it was asked to wait and does not wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def adapter(
    sandbox: CrmSandbox,
    *,
    flow: str = "client_credentials",
    secret: str | None = None,
    **options: Any,
) -> SalesforceCrm:
    """revsync's adapter for the sandbox (``secret``: another client secret; ``options``: the
    adapter's keyword arguments)."""
    creds = sandbox.credentials
    credentials = Credentials(
        flow, creds.client_id, secret or creds.client_secret, creds.username, creds.password
    )
    return SalesforceCrm(
        sandbox.url, credentials, FIELDS, ca_file=str(sandbox.cert_path), **options
    )


def with_crm(
    sandbox: CrmSandbox, work: Callable[[SalesforceCrm], Awaitable[T]], **options: Any
) -> T:
    """Run ``work`` with a fresh adapter (``options`` as for :func:`adapter`), then close it."""

    async def run() -> T:
        crm = adapter(sandbox, **options)
        try:
            return await work(crm)
        finally:
            await crm.aclose()

    return asyncio.run(run())


#: the variable tests hand the sandbox's client secret in
CRM_SECRET_ENV = "REVSYNC_TEST_CRM_SECRET"


def crm_section(sandbox: CrmSandbox, **extra: Any) -> dict[str, Any]:
    """The configuration's ``crm`` section for the sandbox (its secret in ``CRM_SECRET_ENV``)."""
    return {
        "url": sandbox.url,
        "ca_file": str(sandbox.cert_path),
        "client_secret_env": CRM_SECRET_ENV,
        **extra,
    }


def salesforce(sandbox: CrmSandbox) -> Salesforce:
    """simple-salesforce on the sandbox (a client-credentials token, the sandbox's certificate
    verified), to read back what revsync wrote."""
    session = requests.Session()
    session.verify = str(sandbox.cert_path)
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
    creds = sandbox.credentials
    token = session.post(
        sandbox.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        },
        timeout=30,
    ).json()["access_token"]
    return Salesforce(instance_url=sandbox.url, session_id=token, session=session)

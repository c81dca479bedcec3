"""The support tool's webhook into ``revsync serve --with-worker``: a ticket opened in the
support sandbox is signed and posted to ``/v1/support/webhook``, revsync takes it at once (the
periodic sync is an hour away) and the worker writes its context back — read through zenpy.
Unsigned, stale, wrongly signed and malformed posts are refused with a 4xx naming the header or
field, and nothing is taken."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import yaml
from zenpy import Zenpy
from zenpy.lib.api_objects import Organization

from revsync.sandbox.support import SupportSandbox, sign
from tests.support.server import Server
from tests.support.zendesk import new_ticket, zenpy_for

TOKEN_ENV, SECRET_ENV = "SUPPORT_SANDBOX_TOKEN", "SUPPORT_WEBHOOK_SECRET"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SupportSandbox]:
    with SupportSandbox(tmp_path / "support") as running:
        yield running


@pytest.fixture
def zenpy(sandbox: SupportSandbox) -> Zenpy:
    return zenpy_for(sandbox)


def raw(sandbox: SupportSandbox) -> requests.Session:
    session = requests.Session()
    session.verify = str(sandbox.cert_path)
    session.trust_env = False
    session.auth = (f"{sandbox.credentials.email}/token", sandbox.credentials.token)
    return session


def webhook_body(endpoint: str) -> dict[str, Any]:
    return {
        "webhook": {
            "name": "revsync",
            "endpoint": endpoint,
            "http_method": "POST",
            "request_format": "json",
            "status": "active",
            "subscriptions": ["zen:event-type:ticket.created"],
        }
    }


@pytest.fixture
def webhook(sandbox: SupportSandbox) -> tuple[str, str]:
    """A webhook for ticket events (its endpoint set once revsync listens), and its secret."""
    api = f"{sandbox.url}/api/v2/webhooks"
    made = raw(sandbox).post(api, json=webhook_body("http://127.0.0.1:9/v1/support/webhook"))
    assert made.status_code == 201, made.text
    webhook_id = made.json()["webhook"]["id"]
    secret = raw(sandbox).get(f"{api}/{webhook_id}/signing_secret").json()["signing_secret"]
    return webhook_id, secret["secret"]


@pytest.fixture
def server(
    sqlite_url: str,
    tmp_path: Path,
    sandbox: SupportSandbox,
    webhook: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Server]:
    monkeypatch.setenv(TOKEN_ENV, sandbox.credentials.token)
    monkeypatch.setenv(SECRET_ENV, webhook[1])
    config = tmp_path / "revsync.yaml"
    settings: dict[str, Any] = {
        "database": {"url": sqlite_url},
        "logging": {"level": "WARNING"},
        "worker": {"lease_seconds": 5, "poll_seconds": 0.05},
        "outbox": {"allow_private_hosts": ["127.0.0.1"]},
        "support": {
            "url": sandbox.url,
            "ca_file": str(sandbox.cert_path),
            "email": sandbox.credentials.email,
            "token_env": TOKEN_ENV,
            "webhook_secret_env": SECRET_ENV,
            "sync_interval_seconds": 3600,
        },
    }
    config.write_text(yaml.safe_dump(settings))
    running = Server(config, tmp_path, serve_args=("--with-worker",))
    try:
        running.cli("db", "upgrade")
        output = running.cli("apikey", "create", "--name", "e2e", "--role", "admin")
        running.key = {"Authorization": f"Bearer {output.strip().splitlines()[-1]}"}
        assert "created ticket fields" in running.cli("support", "provision")
        running.start()
        yield running
    finally:
        running.stop_all()


def test_a_ticket_the_webhook_names_gets_its_context_before_any_sync(
    server: Server, sandbox: SupportSandbox, zenpy: Zenpy, webhook: tuple[str, str]
) -> None:
    endpoint = f"{server.url}/v1/support/webhook"
    api = f"{sandbox.url}/api/v2/webhooks/{webhook[0]}"
    moved = raw(sandbox).put(api, json=webhook_body(endpoint))
    assert moved.status_code == 204, moved.text
    org = zenpy.organizations.create(Organization(name="Acme Inc")).id
    with server.client() as client:
        customer = {"name": "Acme", "currency": "EUR", "external_refs": {"support": str(org)}}
        assert client.put("/v1/customers/acme", json=customer).status_code == 201
    ticket = new_ticket(zenpy, "Cannot sign in", organization_id=org).id
    assert sandbox.wait_for_deliveries(20)
    [delivery] = sandbox.deliveries()
    assert delivery.state == "delivered", delivery
    deadline = time.monotonic() + 20
    while not [c for c in zenpy.tickets.comments(ticket=ticket) if not c.public]:
        assert time.monotonic() < deadline, server.log_tail()
        time.sleep(0.1)
    [note] = [c.body for c in zenpy.tickets.comments(ticket=ticket) if not c.public]
    assert note.startswith("revsync context for Acme (acme)\nPlan: no subscription in service")
    # a sync by hand reads the ticket again: its context is unchanged, nothing more is queued
    said = " ".join(server.cli("support", "sync").split())
    assert said == (
        "0 organizations mapped, 1 tickets read (0 of unmapped organizations), 0 contexts queued"
    )


def test_hostile_webhook_posts_are_refused_and_take_nothing(
    server: Server, webhook: tuple[str, str]
) -> None:
    secret = webhook[1]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    stale = (datetime.now(UTC) - timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = b'{"type": "zen:event-type:ticket.created", "detail": {"id": "1"}}'

    def post(body: bytes, **headers: str) -> httpx.Response:
        return httpx.post(
            f"{server.url}/v1/support/webhook", content=body, headers=headers, trust_env=False
        )

    def signed(body: bytes, stamp: str = now) -> dict[str, str]:
        return {
            "X-Zendesk-Webhook-Signature": sign(secret, stamp, body),
            "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        }

    cases = [
        (post(event), 401, "X-Zendesk-Webhook-Signature"),
        (post(event, **signed(event, stale)), 401, "X-Zendesk-Webhook-Signature-Timestamp"),
        (post(event + b" ", **signed(event)), 401, "X-Zendesk-Webhook-Signature"),
        (post(b"{not json", **signed(b"{not json")), 400, "body"),
        (post(b"[1, 2]", **signed(b"[1, 2]")), 400, "body"),
    ]
    bad_id = b'{"type": "zen:event-type:ticket.created", "detail": {"id": "1e999"}}'
    cases.append((post(bad_id, **signed(bad_id)), 400, "detail.id"))
    big = b'{"type": "x", "pad": "' + b"a" * 300_000 + b'"}'
    cases.append((post(big, **signed(big)), 413, "body"))
    for answer, status, field in cases:
        assert (answer.status_code, answer.json()["error"].get("field")) == (status, field), (
            answer.text
        )
    other = b'{"type": "zen:event-type:user.created", "detail": {"id": "5"}}'
    ignored = post(other, **signed(other))
    assert (ignored.status_code, ignored.json()) == (202, {"ignored": "not a ticket event"})

"""Webhook signatures (Standard Webhooks) against real HTTP receivers: the fault-injecting
document store, which keeps each request's headers and raw body, and the receiver example of
docs/delivery.md, served by uvicorn and fed by the relay. Receivers verify with the
``standardwebhooks`` library itself."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import importlib.util
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from pydantic import ValidationError
from standardwebhooks import Webhook, WebhookVerificationError

from revsync.adapters.connectors.webhook import (
    SignatureScheme,
    Signing,
    WebhookDestination,
    signing_key,
)
from revsync.adapters.db.tables import outbox_messages
from revsync.bootstrap import Container, build
from revsync.config import ConfigError
from revsync.domain.delivery import ErrorClass, OutboundMessage, idempotency_key
from revsync.ports.delivery import CaseFilter, NewMessage
from revsync.sandbox.faults import Fault, FaultServer
from tests.conftest import make_settings
from tests.support.clock import FrozenClock
from tests.support.delivery import deliver_until, destination, outbox_settings, settled
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[3]
#: a Standard Webhooks secret and the key it stands for
KEY = bytes(range(7, 39))
SECRET = "whsec_" + base64.b64encode(KEY).decode()
#: a raw secret, as revsync's older signature used them
RAW = "raw-secret-from-before-0b9d41"
OTHER = "whsec_" + base64.b64encode(b"another key, not the destination's").decode()


def whsec(raw: str) -> str:
    """A raw secret in the form Standard Webhooks libraries take."""
    return "whsec_" + base64.b64encode(raw.encode()).decode()


@pytest.fixture
def target() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVSYNC_BOOKS_SECRET", SECRET)
    monkeypatch.setenv("REVSYNC_BOOKS_RAW", RAW)


def wired(url: str, *destinations: dict[str, Any]) -> Container:
    """revsync on a real clock, loopback allowed."""
    return build(make_settings(url, **outbox_settings(*destinations)))


def enqueue(container: Container, *names: str) -> list[str]:
    """One message per document name, each of its own customer; their keys."""
    messages = [
        NewMessage(
            destination="books",
            aggregate=f"customer:{name}",
            kind="invoice.finalized",
            object_type="invoice",
            object_id=name,
            key=idempotency_key("invoice.finalized", name),
            payload={"name": name, "total": "12.50"},
            correlation_id=f"corr-{name}",
        )
        for name in names
    ]
    with container.unit_of_work() as uow:
        uow.outbox.add(messages, datetime.now(UTC))
        uow.commit()
    return [m.key for m in messages]


def deliver(url: str, *names: str, **overrides: Any) -> list[str]:
    """Queue the documents for a destination (on the fault server's store unless ``url`` says
    otherwise) and run a relay until they are settled; their keys."""
    container = wired(url, overrides.pop("dest"))
    try:
        keys = enqueue(container, *names)
        deliver_until(container, lambda: settled(container))
    finally:
        container.close()
    return keys


def verified(secret: str | bytes, document: dict[str, Any]) -> Any:
    """What ``standardwebhooks`` makes of a stored request (raises when it does not verify)."""
    return Webhook(secret).verify(document["raw"], document["headers"])


def legacy_ok(key: bytes, document: dict[str, Any]) -> bool:
    """Whether X-Revsync-Signature is the HMAC of ``"<t>.<body>"`` under ``key``, as the
    older receivers check it (the snippet of docs/delivery.md)."""
    header = document["headers"]["x-revsync-signature"]
    stamp, mac = (part.split("=", 1)[1] for part in header.split(","))
    expected = hmac.new(key, f"{stamp}.".encode() + document["raw"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, expected) and abs(time.time() - int(stamp)) < 300


# -- the Standard Webhooks headers -----------------------------------------------------------


def test_each_delivery_verifies_with_the_standard_webhooks_library(
    any_db_url: str, target: FaultServer, secrets: None
) -> None:
    dest = destination(target, secret_env="REVSYNC_BOOKS_SECRET")
    [key] = deliver(any_db_url, "doc-1", dest=dest)
    [document] = target.documents()
    headers = document["headers"]
    envelope = verified(SECRET, document)
    assert (envelope["idempotency_key"], envelope["data"]) == (key, document["body"]["data"])
    # the message's stable id is its idempotency key, sent as both headers
    assert headers["webhook-id"] == headers["idempotency-key"] == key
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    assert re.fullmatch(r"v1,[A-Za-z0-9+/]{43}=", headers["webhook-signature"])
    assert "x-revsync-signature" not in headers  # the older header only behind the switch
    assert headers["x-revsync-event"] == "invoice.finalized"


def test_a_retry_has_the_same_webhook_id_and_a_fresh_timestamp_and_signature(
    sqlite_url: str, target: FaultServer, secrets: None
) -> None:
    # the first answer is lost after the store committed it; without a lookup URL the message
    # is sent again, at least a second later (equal jitter of a 2 s backoff)
    target.script(Fault("commit_then_drop"))
    dest = destination(
        target,
        secret_env="REVSYNC_BOOKS_SECRET",
        lookup_url=None,
        retry={"base_seconds": 2, "max_delay_seconds": 2, "max_attempts": 6},
    )
    [key] = deliver(sqlite_url, "doc-1", dest=dest)
    first, second = target.documents()
    assert first["raw"] == second["raw"]
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"] == key
    assert int(second["headers"]["webhook-timestamp"]) > int(first["headers"]["webhook-timestamp"])
    assert first["headers"]["webhook-signature"] != second["headers"]["webhook-signature"]
    for attempt in (first, second):
        verified(SECRET, attempt)


def test_a_tampered_request_or_another_secret_fails_verification(
    sqlite_url: str, target: FaultServer, secrets: None
) -> None:
    deliver(sqlite_url, "doc-1", dest=destination(target, secret_env="REVSYNC_BOOKS_SECRET"))
    [document] = target.documents()
    verified(SECRET, document)
    tampered_body = {**document, "raw": document["raw"].replace(b"12.50", b"99.50")}
    other_id = {**document, "headers": {**document["headers"], "webhook-id": "rsv1-other"}}
    shifted = str(int(document["headers"]["webhook-timestamp"]) - 1)
    other_time = {**document, "headers": {**document["headers"], "webhook-timestamp": shifted}}
    for forged in (tampered_body, other_id, other_time):
        with pytest.raises(WebhookVerificationError, match="No matching signature"):
            verified(SECRET, forged)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        verified(OTHER, document)


# -- secrets: their forms, the rotation ------------------------------------------------------


def test_a_raw_secret_is_the_key_as_it_is(
    sqlite_url: str, target: FaultServer, secrets: None
) -> None:
    deliver(sqlite_url, "doc-1", dest=destination(target, secret_env="REVSYNC_BOOKS_RAW"))
    [document] = target.documents()
    verified(whsec(RAW), document)
    verified(RAW.encode(), document)


def test_the_forms_of_a_secret() -> None:
    assert signing_key(SECRET) == KEY
    assert signing_key(SECRET.rstrip("=")) == KEY  # padding is optional
    assert signing_key(RAW) == RAW.encode()
    for bad in ("whsec_not*base64!", "whsec_a", "whsec_c2Vj cmV0"):
        with pytest.raises(ValueError, match=r"^is not a valid whsec_ secret \(base64 after"):
            signing_key(bad)
    with pytest.raises(ValueError, match=r"^is an empty whsec_ secret$"):
        signing_key("whsec_")


def test_during_a_rotation_both_secrets_sign(
    sqlite_url: str, target: FaultServer, secrets: None
) -> None:
    dest = destination(
        target,
        secret_env="REVSYNC_BOOKS_SECRET",
        previous_secret_env="REVSYNC_BOOKS_RAW",
        signature="both",
    )
    deliver(sqlite_url, "doc-1", dest=dest)
    [document] = target.documents()
    current, previous = document["headers"]["webhook-signature"].split(" ")
    assert current.startswith("v1,") and previous.startswith("v1,")
    # a receiver on either secret accepts the request; a third secret does not
    verified(SECRET, document)
    verified(whsec(RAW), document)
    with pytest.raises(WebhookVerificationError):
        verified(OTHER, document)
    # the older header carries one signature, under the current secret
    assert legacy_ok(KEY, document)
    assert not legacy_ok(RAW.encode(), document)


# -- the switch ------------------------------------------------------------------------------


@pytest.mark.parametrize("signature", ["revsync-v1", "both"])
def test_the_older_header_is_sent_behind_the_switch(
    sqlite_url: str, target: FaultServer, secrets: None, signature: str
) -> None:
    dest = destination(target, secret_env="REVSYNC_BOOKS_RAW", signature=signature)
    [key] = deliver(sqlite_url, "doc-1", dest=dest)
    [document] = target.documents()
    headers = document["headers"]
    assert legacy_ok(RAW.encode(), document)
    assert not legacy_ok(b"another secret", document)
    assert (headers["idempotency-key"], headers["webhook-id"]) == (key, key)
    if signature == "both":
        verified(whsec(RAW), document)
        stamp = headers["x-revsync-signature"].split(",")[0].removeprefix("t=")
        assert stamp == headers["webhook-timestamp"]  # one attempt, one time
    else:
        assert "webhook-signature" not in headers


def test_without_a_secret_nothing_is_signed(sqlite_url: str, target: FaultServer) -> None:
    [key] = deliver(sqlite_url, "doc-1", dest=destination(target))
    [document] = target.documents()
    assert document["headers"]["webhook-id"] == key
    assert "webhook-signature" not in document["headers"]
    assert "x-revsync-signature" not in document["headers"]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"previous_secret_env": "REVSYNC_B"}, "previous_secret_env needs a secret_env"),
        ({"signature": "revsync-v1"}, "signature revsync-v1 needs a secret_env"),
        ({"signature": "both"}, "signature both needs a secret_env"),
        (
            {"secret_env": "REVSYNC_A", "previous_secret_env": "REVSYNC_A"},
            "another variable",
        ),
        ({"secret_env": "REVSYNC_A", "signature": "hmac"}, "signature"),
    ],
)
def test_signing_settings_are_checked_when_read(
    sqlite_url: str, target: FaultServer, overrides: dict[str, str], reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason):
        make_settings(sqlite_url, **outbox_settings(destination(target, **overrides)))


@pytest.mark.parametrize("setting", ["secret_env", "previous_secret_env"])
def test_a_secret_that_is_not_set_or_not_valid_stops_the_worker_without_showing_it(
    sqlite_url: str, target: FaultServer, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    monkeypatch.setenv("REVSYNC_A", SECRET)
    monkeypatch.delenv("REVSYNC_B", raising=False)
    variables = {"secret_env": "REVSYNC_A", setting: "REVSYNC_B"}
    container = wired(sqlite_url, destination(target, **variables))
    try:
        with pytest.raises(ConfigError, match=rf"destinations.0.{setting}: REVSYNC_B is not set"):
            container.relay()
        bad = "whsec_c2VjcmV0*with-a-star"
        monkeypatch.setenv("REVSYNC_B", bad)
        with pytest.raises(ConfigError) as refused:
            container.relay()
    finally:
        container.close()
    message = str(refused.value)
    assert message.startswith(f"outbox.destinations.0.{setting}: REVSYNC_B is not a valid whsec_")
    assert "c2VjcmV0" not in message
    # a traceback shows no more: the chained error is hidden and holds no secret either
    assert refused.value.__cause__ is None and refused.value.__suppress_context__
    assert "c2VjcmV0" not in repr(refused.value.__context__)


# -- the secret stays secret -----------------------------------------------------------------


def test_no_secret_appears_in_attempts_cases_logs_or_errors(
    sqlite_url: str,
    target: FaultServer,
    secrets: None,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    dest = destination(
        target,
        secret_env="REVSYNC_BOOKS_SECRET",
        previous_secret_env="REVSYNC_BOOKS_RAW",
        signature="both",
    )
    # a refusal (a case), a failure worth a retry, then deliveries
    target.script(Fault("422"), Fault("500"))
    container = wired(sqlite_url, dest)
    try:
        relay = container.relay("leak-check")
        enqueue(container, "doc-1", "doc-2", "doc-3")
        deliver_until(container, lambda: settled(container), relay=relay)
        [case] = container.cases.find(CaseFilter(), after=None, limit=10)
        assert case.last_error is not None and "injected fault" in case.last_error
        with container.engine.connect() as conn:
            reflected = sa.MetaData()
            reflected.reflect(conn)
            stored = "\n".join(
                repr(conn.execute(sa.select(table)).all()) for table in reflected.sorted_tables
            )
        shown = [
            stored,
            repr(case),
            repr(container.settings),
            repr(Signing((KEY, RAW.encode()), SignatureScheme.BOTH)),
        ]
    finally:
        container.close()
    captured = capsys.readouterr()
    shown += [captured.out, captured.err, caplog.text]
    assert "injected fault" in stored  # the attempts and the case were read
    text = "\n".join(shown)
    forms = [
        SECRET,
        SECRET.removeprefix("whsec_"),
        KEY.hex(),
        repr(KEY),
        RAW,
        whsec(RAW).removeprefix("whsec_"),
    ]
    for form in forms:
        assert form not in text


# -- the receiver example of docs/delivery.md ------------------------------------------------


def receiver_source() -> str:
    """The receiver of docs/delivery.md, as written there."""
    text = (ROOT / "docs" / "delivery.md").read_text()
    section = text[text.index("### A receiver") :]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block is not None
    return block.group(1)


@pytest.fixture
def receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    """The example receiver, served on loopback: (its URL, its module)."""
    monkeypatch.setenv("REVSYNC_WEBHOOK_SECRET", SECRET)
    path = tmp_path / "receiver.py"
    path.write_text(receiver_source())
    spec = importlib.util.spec_from_file_location("docs_receiver", path)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with served(module.app) as url:
        yield f"{url}/revsync", module


@contextmanager
def served(app: Any) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        assert thread.is_alive(), "uvicorn stopped"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def outbound(name: str) -> OutboundMessage:
    return OutboundMessage(
        id=1,
        destination="books",
        aggregate=f"customer:{name}",
        kind="invoice.finalized",
        object_type="invoice",
        object_id=name,
        key=idempotency_key("invoice.finalized", name),
        payload={"name": name, "total": "12.50"},
        correlation_id=None,
        created_at=datetime.now(UTC),
        attempts=1,
        unsure=False,
    )


def send(url: str, message: OutboundMessage, clock: FrozenClock, key: bytes = KEY) -> Any:
    """One attempt by a destination with its own clock (real HTTP)."""

    async def main() -> Any:
        connector = WebhookDestination(
            url, clock=clock, signing=Signing((key,)), allow_private=frozenset({"127.0.0.1"})
        )
        try:
            return await connector.send(message)
        finally:
            await connector.aclose()

    return asyncio.run(main())


def test_the_documented_receiver_verifies_and_handles_each_message_once(
    sqlite_url: str, receiver: tuple[str, Any], secrets: None
) -> None:
    url, module = receiver
    dest = {
        "name": "books",
        "url": url,
        "secret_env": "REVSYNC_BOOKS_SECRET",
        "events": ["invoice.finalized"],
        "timeout_seconds": 1,
        "retry": {"base_seconds": 0.02, "max_delay_seconds": 0.1, "max_attempts": 3},
    }
    container = wired(sqlite_url, dest)
    try:
        keys = enqueue(container, "doc-1", "doc-2")
        deliver_until(container, lambda: settled(container))
        m = outbox_messages.c
        with container.engine.connect() as conn:
            rows = conn.execute(sa.select(m.status, m.remote_id)).all()
    finally:
        container.close()
    assert sorted(rows) == sorted(("delivered", key) for key in keys)
    assert sorted(module.handled) == sorted(keys)
    assert module.handled[keys[0]]["data"] == {"name": "doc-1", "total": "12.50"}

    # the same message again (a resend, a replay): answered, not handled twice
    again = send(url, outbound("doc-1"), FrozenClock(datetime.now(UTC)))
    assert (again.error_class, again.status_code, again.remote_id) == (None, 200, keys[0])
    assert sorted(module.handled) == sorted(keys)


def test_the_documented_receiver_rejects_old_forged_and_foreign_requests(
    receiver: tuple[str, Any],
) -> None:
    url, module = receiver
    now = datetime.now(UTC)
    old = send(url, outbound("old"), FrozenClock(now - timedelta(minutes=10)))
    assert (old.error_class, old.status_code) == (ErrorClass.FATAL, 401)
    assert "too old" in old.reason
    foreign = send(url, outbound("foreign"), FrozenClock(now), key=b"a key it does not know")
    assert (foreign.error_class, foreign.status_code) == (ErrorClass.FATAL, 401)
    assert module.handled == {}

    # a signed request whose body was changed on the way
    genuine = outbound("forged")
    stamp = str(int(time.time()))
    body = b'{"id": 1, "type": "invoice.finalized", "data": {"total": "0.01"}}'
    signature = Webhook(SECRET).sign(genuine.key, datetime.fromtimestamp(int(stamp), UTC), "{}")
    headers = {"webhook-id": genuine.key, "webhook-timestamp": stamp}
    answer = httpx.post(
        url, content=body, headers={**headers, "webhook-signature": signature}, trust_env=False
    )
    assert answer.status_code == 401
    unsigned = httpx.post(url, content=body, headers=headers, trust_env=False)
    assert unsigned.status_code == 401
    assert module.handled == {}

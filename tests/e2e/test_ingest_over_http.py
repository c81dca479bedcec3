"""Ingestion as a user runs it: ``revsync serve`` in its own process, real HTTP, concurrency,
and a SIGKILL in the middle of a stream (ARCHITECTURE promise 1: accepted means stored).

Runs on SQLite and PostgreSQL. The server's clock is the real one, so events are stamped
about an hour before now.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import TEST_METERS
from tests.support.events import encode, event
from tests.support.server import Server

BATCH = {"Content-Type": "application/cloudevents-batch+json"}
TENANTS = [f"tenant-{i:02d}" for i in range(20)]
#: four customers with five tenants each
CUSTOMERS = {f"cust-{c}": TENANTS[c * 5 : c * 5 + 5] for c in range(4)}


@pytest.fixture
def workers() -> int:
    """Server processes (``--workers``); a test parametrizes it to run several writers."""
    return 1


@pytest.fixture
def server(any_db_url: str, tmp_path: Path, workers: int) -> Iterator[Server]:
    """A migrated database, an admin key made with the CLI, and ``revsync serve`` running."""
    config = tmp_path / "revsync.yaml"
    settings = {
        "database": {"url": any_db_url},
        "meters": TEST_METERS,
        "logging": {"level": "WARNING"},
    }
    config.write_text(yaml.safe_dump(settings))
    running = Server(config, tmp_path, workers=workers)
    try:
        running.cli("db", "upgrade")
        output = running.cli("apikey", "create", "--name", "e2e", "--role", "admin")
        running.key = {"Authorization": f"Bearer {output.strip().splitlines()[-1]}"}
        running.start()
        yield running
    finally:
        running.stop_all()  # before the database is dropped


# --- helpers -----------------------------------------------------------------------------


def stamp() -> datetime:
    """An hour ago: inside the 24 h the server accepts, and before now."""
    return datetime.now(UTC) - timedelta(hours=1)


def api_call(event_id: str, index: int, at: datetime) -> dict[str, Any]:
    return event(
        event_id,
        subject=TENANTS[index % len(TENANTS)],
        time=at + timedelta(milliseconds=index),
        data={"endpoint": f"/v1/things/{index % 3}", "environment": "production"},
    )


def batch(prefix: str, indices: range, at: datetime) -> bytes:
    return encode([api_call(f"{prefix}{i}", i, at) for i in indices])


def put_customers(server: Server) -> None:
    with server.client() as client:
        for cid, tenants in CUSTOMERS.items():
            body = {
                "name": cid,
                "currency": "EUR",
                "timezone": "UTC",
                "external_refs": {"product": tenants},
            }
            response = client.put(f"/v1/customers/{cid}", json=body)
            assert response.status_code == 201, response.text


def post(client: httpx.Client, body: bytes) -> dict[str, Any]:
    response = client.post("/v1/events", content=body, headers=BATCH)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def post_concurrently(server: Server, bodies: list[bytes]) -> list[dict[str, Any]]:
    """Post each body from its own thread and client, all released at once."""
    barrier = threading.Barrier(len(bodies))
    results: list[dict[str, Any] | BaseException | None] = [None] * len(bodies)

    def send(slot: int) -> None:
        try:
            with server.client() as client:
                client.get("/healthz")  # connect before the barrier
                barrier.wait(timeout=30)
                results[slot] = post(client, bodies[slot])
        except BaseException as error:  # reported below, in the test's thread
            results[slot] = error

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    assert all(isinstance(r, dict) for r in results), results
    return [r for r in results if isinstance(r, dict)]


def metered_calls(server: Server, at: datetime) -> int:
    """api_calls of the four customers over a range holding every event sent, summed."""
    params = {
        "meter": "api_calls",
        "from": (at - timedelta(days=1)).isoformat(),
        "to": (at + timedelta(days=2)).isoformat(),
    }
    total = 0
    with server.client() as client:
        for cid in CUSTOMERS:
            response = client.get(f"/v1/customers/{cid}/usage", params=params)
            assert response.status_code == 200, response.text
            buckets = response.json()["buckets"]
            assert len(buckets) <= 1, buckets
            for bucket in buckets:
                assert bucket["value"] == str(bucket["events"])
                total += bucket["events"]
    return total


def totals(results: list[dict[str, Any]]) -> tuple[int, int, list[Any]]:
    return (
        sum(r["accepted"] for r in results),
        sum(r["duplicates"] for r in results),
        [r["rejected"] for r in results if r["rejected"]],
    )


# --- tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 3], ids=["1-process", "3-processes"])
def test_eight_clients_posting_the_same_batch_store_it_once(server: Server) -> None:
    put_customers(server)
    at = stamp()
    body = batch("same-", range(500), at)
    results = post_concurrently(server, [body] * 8)
    assert totals(results) == (500, 3500, [])
    assert sum(r["unmapped"] for r in results) == 0
    assert metered_calls(server, at) == 500


def test_repeated_and_overlapping_batches_count_each_event_once(server: Server) -> None:
    put_customers(server)
    at = stamp()
    body = batch("rep-", range(500), at)
    with server.client() as client:
        first, second = post(client, body), post(client, body)
    assert (first["accepted"], first["duplicates"], first["rejected"]) == (500, 0, [])
    assert (second["accepted"], second["duplicates"], second["rejected"]) == (0, 500, [])

    overlapping = [
        batch("ovl-", span, at) for span in (range(300), range(200, 500), range(100, 400))
    ]
    results = post_concurrently(server, overlapping)
    assert totals(results) == (500, 400, [])
    assert metered_calls(server, at) == 1000


def test_a_server_killed_mid_stream_loses_no_acknowledged_event(server: Server) -> None:
    put_customers(server)
    at = stamp()
    size = 100
    bodies: list[bytes] = []
    acknowledged: dict[int, dict[str, Any]] = {}
    failures: list[BaseException] = []
    stop = threading.Event()

    def stream() -> None:
        with server.client() as client:
            number = 0
            while not stop.is_set():
                body = batch(f"k{number}-", range(size), at + timedelta(seconds=number))
                bodies.append(body)  # sent or about to be: re-posted after the restart
                try:
                    response = client.post("/v1/events", content=body, headers=BATCH)
                except httpx.TransportError as error:
                    failures.append(error)
                    return
                if response.is_success:
                    acknowledged[number] = response.json()
                number += 1

    sender = threading.Thread(target=stream)
    sender.start()
    time.sleep(1.0)
    assert server.kill() == -signal.SIGKILL
    stop.set()
    sender.join(timeout=30)
    assert not sender.is_alive()
    assert acknowledged, f"no batch was acknowledged in 1 s:\n{server.log_tail()}"
    for result in acknowledged.values():
        assert (result["accepted"], result["rejected"]) == (size, [])

    server.start()  # the same database
    replayed: list[dict[str, Any]] = []
    with server.client() as client:
        for body in bodies:
            replayed.append(post(client, body))
    for number, result in enumerate(replayed):
        assert result["rejected"] == [], result
        assert result["accepted"] + result["duplicates"] == size, result
        if number in acknowledged:
            assert (result["accepted"], result["duplicates"]) == (0, size), (
                f"batch {number} was acknowledged before the kill but not stored: {result}"
            )
    assert metered_calls(server, at) == size * len(bodies)

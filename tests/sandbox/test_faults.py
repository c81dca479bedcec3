"""The misbehaving document store, driven by a real httpx client over real sockets."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from revsync.sandbox.faults import Fault, FaultServer


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as started:
        yield started


@pytest.fixture
def client(server: FaultServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=5, trust_env=False) as http:
        yield http


def post(client: httpx.Client, key: str, body: Any = None, **kwargs: Any) -> httpx.Response:
    """POST /documents: ``body`` as JSON (None is ``null``) under an Idempotency-Key."""
    headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
    return client.post("/documents", content=json.dumps(body), headers=headers, **kwargs)


def lookup(client: httpx.Client, key: str) -> httpx.Response:
    return client.get(f"/documents/by-key/{quote(key, safe='')}")


# -- normal handling -----------------------------------------------------------------------


def test_a_post_commits_and_the_lookup_finds_it(server: FaultServer, client: httpx.Client) -> None:
    response = post(client, "inv-1", {"amount": "12.50"})
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"id": 1, "key": "inv-1"}

    found = lookup(client, "inv-1")
    assert found.status_code == 200
    assert found.json() == {"id": 1, "key": "inv-1", "body": {"amount": "12.50"}}
    [document] = server.documents()
    assert document["body"] == {"amount": "12.50"}
    assert abs(document["received_at"] - time.time()) < 60
    assert server.commits() == {"inv-1": 1}
    assert server.stats() | {} == {
        "posts": 1,
        "lookups": 1,
        "faults": 0,
        "committed": 1,
        **{
            f"fault_{k}": 0
            for k in ("429", "500", "503", "reset", "commit_then_drop", "stall", "410", "422")
        },
    }


def test_an_unknown_key_is_not_found(client: httpx.Client) -> None:
    response = lookup(client, "nope")
    assert response.status_code == 404
    assert response.json() == {"error": "not found"}


def test_keys_in_lookups_are_percent_decoded(client: httpx.Client) -> None:
    key = "tenant/42 invoice #7?x=%"
    assert post(client, key, [1, 2]).status_code == 201
    assert lookup(client, key).json()["body"] == [1, 2]


def test_a_post_without_idempotency_key_is_400_and_takes_no_fault(
    server: FaultServer, client: httpx.Client
) -> None:
    server.script(Fault("503"))
    response = client.post("/documents", json={"a": 1})
    assert response.status_code == 400
    assert response.json() == {"error": "Idempotency-Key header required"}
    assert post(client, "k").status_code == 503
    assert server.documents() == []
    assert server.stats()["posts"] == 2


def test_invalid_json_is_400(server: FaultServer, client: httpx.Client) -> None:
    for raw in (b"{not json", b"", b"NaN"):
        response = client.post("/documents", content=raw, headers={"Idempotency-Key": "k"})
        assert response.status_code == 400
        assert response.json() == {"error": "invalid JSON"}
    assert server.documents() == []


def test_a_repost_without_dedupe_commits_a_second_document(
    server: FaultServer, client: httpx.Client
) -> None:
    assert post(client, "k", 1).json() == {"id": 1, "key": "k"}
    assert post(client, "k", 2).json() == {"id": 2, "key": "k"}
    assert server.commits() == {"k": 2}
    assert lookup(client, "k").json()["id"] == 1  # the first one


def test_a_repost_with_dedupe_answers_200_with_the_existing_document() -> None:
    with (
        FaultServer(dedupe=True) as server,
        httpx.Client(base_url=server.url, trust_env=False) as client,
    ):
        assert post(client, "k", 1).status_code == 201
        again = post(client, "k", 2)
        assert again.status_code == 200
        assert again.json() == {"id": 1, "key": "k"}
        assert server.commits() == {"k": 1}
        assert [d["body"] for d in server.documents()] == [1]


# -- answered faults -----------------------------------------------------------------------


def test_503_with_retry_after_commits_nothing_and_the_next_post_succeeds(
    server: FaultServer, client: httpx.Client
) -> None:
    server.script(Fault("503", retry_after=2))
    response = post(client, "k", {"a": 1})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.headers["content-type"] == "application/json"
    assert "error" in response.json()
    assert server.documents() == []

    assert post(client, "k", {"a": 1}).status_code == 201
    assert server.commits() == {"k": 1}
    assert server.stats()["fault_503"] == 1


@pytest.mark.parametrize("kind", ["429", "500"])
def test_answered_faults_commit_nothing(
    server: FaultServer, client: httpx.Client, kind: str
) -> None:
    server.script(Fault(kind))
    response = post(client, "k")
    assert response.status_code == int(kind)
    assert "retry-after" not in response.headers
    assert server.documents() == []
    assert server.stats()["faults"] == server.stats()[f"fault_{kind}"] == 1


@pytest.mark.parametrize(("seconds", "header"), [(0, "0"), (0.2, "1"), (1.0, "1"), (2.5, "3")])
def test_retry_after_is_whole_seconds_rounded_up(
    server: FaultServer, client: httpx.Client, seconds: float, header: str
) -> None:
    server.script(Fault("429", retry_after=seconds))
    assert post(client, "k").headers["retry-after"] == header


def test_scripted_faults_are_taken_in_order_once_each(
    server: FaultServer, client: httpx.Client
) -> None:
    server.script(Fault("500"), Fault("503"))
    server.script(Fault("429"))
    statuses = [post(client, f"k{i}").status_code for i in range(4)]
    assert statuses == [500, 503, 429, 201]


# -- socket-level faults -------------------------------------------------------------------


def test_reset_aborts_the_connection_and_commits_nothing(
    server: FaultServer, client: httpx.Client
) -> None:
    server.script(Fault("reset"))
    with pytest.raises(httpx.TransportError):
        post(client, "k", {"a": 1})
    assert server.documents() == []
    assert lookup(client, "k").status_code == 404
    assert server.stats()["fault_reset"] == 1


def test_commit_then_drop_commits_but_never_answers(
    server: FaultServer, client: httpx.Client
) -> None:
    server.script(Fault("commit_then_drop"))
    with pytest.raises(httpx.TransportError):
        post(client, "k", {"a": 1})
    assert lookup(client, "k").json() == {"id": 1, "key": "k", "body": {"a": 1}}
    assert server.commits() == {"k": 1}


def test_stall_times_the_client_out_and_stop_does_not_wait_for_it(
    server: FaultServer, client: httpx.Client
) -> None:
    server.script(Fault("stall", seconds=5))
    with pytest.raises(httpx.ReadTimeout):
        post(client, "k", timeout=0.3)
    assert server.documents() == []
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1


def test_a_short_stall_ends_in_a_dropped_connection(
    server: FaultServer, client: httpx.Client
) -> None:
    server.script(Fault("stall", seconds=0.1))
    with pytest.raises(httpx.TransportError) as raised:
        post(client, "k")
    assert not isinstance(raised.value, httpx.TimeoutException)
    assert server.documents() == []


# -- chaos ---------------------------------------------------------------------------------


def deliver(server: FaultServer, keys: list[str]) -> list[str]:
    """POST each key until it is answered 2xx or a lookup finds it; every POST's outcome."""
    outcomes: list[str] = []
    with httpx.Client(base_url=server.url, timeout=5, trust_env=False) as client:
        for key in keys:
            for _ in range(100):
                try:
                    outcome = str(post(client, key, {"key": key}).status_code)
                except httpx.TransportError:
                    outcome = "dropped"
                outcomes.append(outcome)
                if outcome == "201" or lookup(client, key).status_code == 200:
                    break
    return outcomes


def run_chaos(seed: int, count: int = 300) -> tuple[list[str], dict[str, int], dict[str, int]]:
    """Deliver ``count`` fresh keys through chaos(0.3, seed); every key ends committed once."""
    keys = [f"key-{i}" for i in range(count)]
    with FaultServer() as server:
        server.chaos(0.3, seed=seed, retry_after=0, stall_seconds=0.05)
        outcomes = deliver(server, keys)
        commits = server.commits()
        stats = server.stats()
    assert sorted(commits) == sorted(keys)
    assert set(commits.values()) == {1}  # looked up before every retry: never twice
    return outcomes, stats, commits


def test_chaos_fails_about_the_rate_and_is_reproducible_by_seed() -> None:
    outcomes, stats, _ = run_chaos(seed=7)
    assert stats["posts"] == len(outcomes)
    assert 0.15 <= stats["faults"] / stats["posts"] <= 0.45
    kinds = ("429", "500", "503", "reset", "commit_then_drop", "stall")
    assert all(stats[f"fault_{kind}"] > 0 for kind in kinds)
    assert sum(stats[f"fault_{kind}"] for kind in kinds) == stats["faults"]

    again, stats_again, _ = run_chaos(seed=7)
    assert again == outcomes
    assert stats_again == stats
    other, _, _ = run_chaos(seed=8, count=60)
    assert other != outcomes[: len(other)]


def test_chaos_kinds_are_weighted_and_rate_zero_turns_it_off(
    server: FaultServer, client: httpx.Client
) -> None:
    server.chaos(1.0, {"500": 1, "reset": 0}, seed=3)
    assert {post(client, f"k{i}").status_code for i in range(20)} == {500}
    server.chaos(0)
    assert post(client, "after").status_code == 201


def test_the_script_goes_before_chaos(server: FaultServer, client: httpx.Client) -> None:
    server.chaos(1.0, {"500": 1})
    server.script(Fault("429"))
    assert [post(client, f"k{i}").status_code for i in range(2)] == [429, 500]


def test_invalid_faults_and_chaos_are_refused(server: FaultServer) -> None:
    with pytest.raises(ValueError):
        Fault("404")
    with pytest.raises(ValueError):
        Fault("503", retry_after=-1)
    with pytest.raises(ValueError):
        server.chaos(1.5)
    with pytest.raises(ValueError):
        server.chaos(0.5, {"teapot": 1})
    with pytest.raises(ValueError):
        server.chaos(0.5, {"500": 0})


# -- control endpoints ---------------------------------------------------------------------


def test_post_faults_drives_the_script_over_http(server: FaultServer, client: httpx.Client) -> None:
    config = {"script": [{"kind": "503", "retry_after": 1}, {"kind": "reset"}]}
    answer = client.post("/_faults", json=config)
    assert answer.status_code == 204
    assert answer.content == b""
    assert "content-type" not in answer.headers

    first = post(client, "k")
    assert (first.status_code, first.headers["retry-after"]) == (503, "1")
    with pytest.raises(httpx.TransportError):
        post(client, "k")
    assert post(client, "k").status_code == 201
    assert server.stats()["faults"] == 2


def test_post_faults_drives_chaos_over_http(server: FaultServer, client: httpx.Client) -> None:
    chaos = {"rate": 1, "kinds": {"429": 1}, "seed": 1, "retry_after": 3}
    assert client.post("/_faults", json={"chaos": chaos}).status_code == 204
    response = post(client, "k")
    assert (response.status_code, response.headers["retry-after"]) == (429, "3")
    assert client.post("/_faults", json={"chaos": {"rate": 0}}).status_code == 204
    assert post(client, "k").status_code == 201


@pytest.mark.parametrize(
    "config",
    [
        [],
        {"script": [{"kind": "418"}]},
        {"script": [{"kind": "503", "retry_after": "soon"}]},
        {"script": {"kind": "503"}},
        {"scrpit": []},
        {"chaos": {"rate": 2}},
        {"script": [{"kind": "503"}], "chaos": {"seed": 1}},
    ],
)
def test_post_faults_refuses_a_bad_config_and_applies_none_of_it(
    server: FaultServer, client: httpx.Client, config: Any
) -> None:
    answer = client.post("/_faults", json=config)
    assert answer.status_code == 400
    assert "error" in answer.json()
    assert post(client, "k").status_code == 201


def test_stats_over_http_count_documents(server: FaultServer, client: httpx.Client) -> None:
    post(client, "a")
    post(client, "a")
    lookup(client, "a")
    stats = client.get("/_stats").json()
    assert stats == server.stats() | {"documents": 2}
    assert (stats["posts"], stats["committed"], stats["lookups"]) == (2, 2, 1)


def test_reset_forgets_documents_counters_script_and_chaos(
    server: FaultServer, client: httpx.Client
) -> None:
    post(client, "a")
    server.script(Fault("500"))
    server.chaos(1.0, {"503": 1})
    assert client.post("/_reset").status_code == 204
    assert server.documents() == []
    assert server.commits() == {}
    assert set(server.stats().values()) == {0}
    assert post(client, "b").json() == {"id": 1, "key": "b"}

    server.script(Fault("500"))
    server.reset_data()
    assert post(client, "c").json() == {"id": 1, "key": "c"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/"), ("GET", "/documents"), ("PUT", "/documents"), ("POST", "/_stats")],
)
def test_anything_else_is_404(client: httpx.Client, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "not found"}


# -- HTTP/1.1 ------------------------------------------------------------------------------


def test_keep_alive_serves_two_requests_on_one_connection(client: httpx.Client) -> None:
    first = post(client, "a")
    second = lookup(client, "a")
    assert (first.status_code, second.status_code) == (201, 200)
    [first_addr, second_addr] = [
        r.extensions["network_stream"].get_extra_info("client_addr") for r in (first, second)
    ]
    assert first_addr == second_addr  # the same client socket


def test_pipelined_requests_are_answered_in_order_then_closed(server: FaultServer) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    body = json.dumps({"a": 1}).encode()
    requests = (
        b"POST /documents HTTP/1.1\r\nHost: x\r\nIdempotency-Key: p\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
        + b"GET /documents/by-key/p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(requests)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 201 Created\r\n")
    assert received.count(b"HTTP/1.1 ") == 2
    assert b"HTTP/1.1 200 OK\r\n" in received
    assert received.endswith(b'{"id": 1, "key": "p", "body": {"a": 1}}')


# -- lifecycle -----------------------------------------------------------------------------


def test_start_stop_and_url() -> None:
    server = FaultServer()
    with pytest.raises(RuntimeError):
        _ = server.url
    assert server.start() is server
    assert server.url.startswith("http://127.0.0.1:")
    with httpx.Client(trust_env=False) as client:
        assert client.get(server.url + "/_stats").status_code == 200
    server.stop()
    server.stop()  # idempotent
    with httpx.Client(trust_env=False) as client, pytest.raises(httpx.ConnectError):
        client.get(server.url + "/_stats")


def test_a_port_in_use_fails_start(server: FaultServer) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        FaultServer(port=port).start()


def test_runs_as_a_process_until_sigterm() -> None:
    command = [sys.executable, "-m", "revsync.sandbox.faults", "--port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            with httpx.Client(base_url=url, trust_env=False) as client:
                assert post(client, "k").status_code == 201
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=5) == 0
        finally:
            process.kill()


@pytest.mark.parametrize(("kind", "status"), [("410", 410), ("422", 422)])
def test_scripted_refusals_answer_their_status_and_commit_nothing(kind: str, status: int) -> None:
    with FaultServer() as server, httpx.Client(base_url=server.url) as client:
        server.script(Fault(kind))
        refused = client.post("/documents", json={"n": 1}, headers={"Idempotency-Key": "k1"})
        assert refused.status_code == status
        assert "injected fault" in refused.json()["error"]
        assert server.commits() == {}
        assert server.stats()[f"fault_{kind}"] == 1

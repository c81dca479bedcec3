"""A bug answers 500 in the one error shape, with the request id that its logged traceback
carries, and the connection stays usable (a real uvicorn on loopback, one keep-alive client)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from revsync.bootstrap import Container
from revsync.entrypoints.api.app import create_app
from tests.support.server import free_port


@pytest.fixture
def served(container: Container) -> Iterator[tuple[str, FastAPI]]:
    app = create_app(container)

    @app.get("/test-bug")
    def bug() -> None:  # stands for any defect in a route
        raise ZeroDivisionError("a defect")

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(timeout=10)


def test_a_500_names_its_request_id_in_the_log_and_keeps_the_connection(
    served: tuple[str, FastAPI], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = served
    # a long timeout: outside `revsync serve` structlog renders the traceback with every
    # frame's locals, which takes seconds on a loaded machine
    limits = httpx.Limits(max_connections=1)
    with httpx.Client(base_url=url, limits=limits, timeout=60) as client:
        broken = client.get("/test-bug", headers={"X-Request-Id": "req-bug-1"})
        assert broken.status_code == 500
        assert broken.json() == {
            "error": {
                "code": "internal",
                "message": "internal error; see the server log with this request_id",
                "request_id": "req-bug-1",
            }
        }
        assert broken.headers.get("connection", "keep-alive") != "close"
        stream = broken.extensions["network_stream"]
        healthy = client.get("/healthz")
        assert healthy.status_code == 200
        assert healthy.extensions["network_stream"] is stream  # the same connection
    logged = capsys.readouterr()
    text = logged.out + logged.err
    line = next(x for x in text.splitlines() if "unhandled error" in x)
    assert "req-bug-1" in line
    assert "ZeroDivisionError" in text

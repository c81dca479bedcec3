"""Services on loopback that some tests need besides PostgreSQL: fail on CI, skip elsewhere."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from tests.support.databases import in_ci


def require_redis(url: str) -> None:
    """Fail on CI, skip elsewhere, when nothing answers at the Redis ``url``."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 2):
            return
    except OSError as error:
        message = f"Redis at {url} is not reachable: {error}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


#: the NATS server (with JetStream) of the tests (.ci/run starts one)
NATS_URL = "nats://127.0.0.1:4222"


def require_nats(url: str = NATS_URL) -> None:
    """Fail on CI, skip elsewhere, when nothing answers at the NATS ``url``."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 4222), 2):
            return
    except OSError as error:
        message = f"NATS at {url} is not reachable: {error}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)

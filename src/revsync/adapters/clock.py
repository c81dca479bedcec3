"""The system clock and id source (the only places that read real time and randomness)."""

from __future__ import annotations

import random
import secrets
import threading
import time
from datetime import UTC, datetime


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    """Time-ordered ids (``prefix_`` + 26 base32 characters) and URL-safe secrets."""

    _ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0
        # ids need to be unique, not secret: a seeded generator avoids a system call per id
        self._random = random.Random(secrets.randbits(128))  # noqa: S311 - not a secret

    def new_id(self, prefix: str) -> str:
        with self._lock:
            stamp = max(time.time_ns() // 1_000_000, self._last + 1)
            self._last = stamp
            entropy = self._random.getrandbits(80)
        value = (stamp << 80) | entropy
        chars = []
        for _ in range(26):
            value, digit = divmod(value, 32)
            chars.append(self._ALPHABET[digit])
        return f"{prefix}_{''.join(reversed(chars))}"

    def new_secret(self) -> str:
        return secrets.token_urlsafe(32)

"""Named failpoints for crash and atomicity tests.

Code calls ``failpoints.hit("ledger.before_commit")`` at places where a crash matters. A
test arms a point programmatically (:meth:`Failpoints.arm`) or, for a separate process,
through ``REVSYNC_FAILPOINTS="ledger.before_commit=raise:1,relay.after_send=kill@300"``
(``action[:times][@skip]``: fire ``times`` times, after letting the first ``skip`` hits pass).
Unarmed points cost one dict lookup.
"""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass


class FailpointError(RuntimeError):
    """Raised by an armed failpoint whose action is ``raise``."""


@dataclass(slots=True)
class _Armed:
    action: str
    remaining: int | None
    skip: int = 0


class Failpoints:
    """A registry of armed failpoints (thread-safe)."""

    def __init__(self, spec: str = "") -> None:
        self._armed: dict[str, _Armed] = {}
        self._lock = threading.Lock()
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, _, action = part.partition("=")
            action, _, skip = (action or "raise").partition("@")
            verb, _, times = action.partition(":")
            self.arm(name.strip(), verb.strip(), int(times) if times else None, int(skip or 0))

    def arm(
        self, name: str, action: str = "raise", times: int | None = None, skip: int = 0
    ) -> None:
        """Arm ``name`` to ``raise`` or ``kill`` (SIGKILL), ``times`` times or for ever,
        after letting ``skip`` hits pass."""
        if action not in ("raise", "kill"):
            raise ValueError(f"failpoint action must be 'raise' or 'kill', got {action!r}")
        with self._lock:
            self._armed[name] = _Armed(action, times, skip)

    def disarm(self, name: str) -> None:
        """Stop firing ``name``."""
        with self._lock:
            self._armed.pop(name, None)

    def hit(self, name: str) -> None:
        """Fire the failpoint if armed."""
        if name not in self._armed:
            return
        with self._lock:
            armed = self._armed.get(name)
            if armed is None:
                return
            if armed.skip > 0:
                armed.skip -= 1
                return
            if armed.remaining is not None:
                armed.remaining -= 1
                if armed.remaining <= 0:
                    del self._armed[name]
        if armed.action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise FailpointError(f"failpoint {name} fired")


#: the disarmed default
NONE = Failpoints()

"""What the CRM and the support sandbox's controls have in common: a scripted fault's shape (its
kind, for how many requests, which method and path prefix, how many seconds, before or after the
commit), its checks and its matching; and the control that hands scripted faults out in order
and counts the requests received. The kinds and what each one answers are each sandbox's own."""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class ScriptedFault:
    """A scripted failure for the next ``times`` requests that match ``method`` and ``path`` (a
    prefix of the path under the API's root; one starting with ``/`` is matched against the
    whole path); a subclass names its ``kinds`` and says what they do."""

    #: the kinds a sandbox knows
    kinds: ClassVar[tuple[str, ...]] = ()

    kind: str
    times: int = 1
    method: str | None = None
    path: str | None = None
    seconds: float = 1.0
    after_commit: bool = False

    def __post_init__(self) -> None:
        if self.kind not in self.kinds:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {self.kinds}")
        if self.times < 1:
            raise ValueError(f"times must be >= 1, not {self.times!r}")
        if self.method is not None and self.method.upper() not in _METHODS:
            raise ValueError(f"unknown method {self.method!r}")
        if not math.isfinite(self.seconds) or self.seconds < 0:
            raise ValueError(f"seconds must be a finite number >= 0, not {self.seconds!r}")

    def matches(self, method: str, path: str, relative: str) -> bool:
        """Whether a request is one this fault is for."""
        if self.method is not None and self.method.upper() != method:
            return False
        if self.path is None:
            return True
        target = path if self.path.startswith("/") else relative
        return target.startswith(self.path)


FaultT = TypeVar("FaultT", bound=ScriptedFault)


class ScriptedControl(Generic[FaultT]):
    """Scripted faults and the count of requests received by (method, kind); every method holds
    ``_lock``, which a subclass holds for its own state too."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[tuple[FaultT, list[int]]] = []  # (fault, [remaining])
        self._counts: Counter[tuple[str, str]] = Counter()

    def script(self, faults: tuple[FaultT, ...]) -> None:
        """Queue faults, matched in order."""
        with self._lock:
            self._faults.extend((fault, [fault.times]) for fault in faults)

    def clear_faults(self) -> None:
        """Drop every scripted fault not yet taken."""
        with self._lock:
            self._faults.clear()

    def pending_faults(self) -> int:
        """How many fault answers are still scripted."""
        with self._lock:
            return sum(remaining[0] for _, remaining in self._faults)

    def take_fault(self, method: str, path: str, relative: str) -> FaultT | None:
        """The first scripted fault matching a request, used up by one."""
        with self._lock:
            for entry in self._faults:
                fault, remaining = entry
                if fault.matches(method, path, relative):
                    remaining[0] -= 1
                    if remaining[0] <= 0:
                        self._faults.remove(entry)
                    return fault
        return None

    def count(self, method: str, kind: str) -> None:
        """Count one request received."""
        with self._lock:
            self._counts[(method, kind)] += 1

    def reset_counts(self) -> None:
        """Forget the counts."""
        with self._lock:
            self._counts.clear()

"""Deterministic usage: CloudEvents for a set of tenants over a time range."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

_MODELS = ("small", "large")
_ENDPOINTS = ("/search", "/export", "/sync")


@dataclass(frozen=True, slots=True)
class GeneratorSpec:
    """What to generate: tenants, the time range, how many events, the seed."""

    tenants: Sequence[str]
    start: datetime
    end: datetime
    events: int
    seed: int = 7
    source: str = "app://revsync-sample"


def generate(spec: GeneratorSpec) -> Iterator[dict[str, Any]]:
    """CloudEvents (as dicts) spread over the range; ids are unique and deterministic."""
    rng = random.Random(spec.seed)
    span = (spec.end - spec.start).total_seconds()
    for number in range(spec.events):
        tenant = spec.tenants[rng.randrange(len(spec.tenants))]
        moment = spec.start + timedelta(seconds=rng.random() * span)
        event_type, data = _event_body(rng)
        yield {
            "specversion": "1.0",
            "id": f"evt-{spec.seed}-{number:08d}",
            "source": spec.source,
            "type": event_type,
            "subject": tenant,
            "time": moment.isoformat().replace("+00:00", "Z"),
            "data": data,
        }


def _event_body(rng: random.Random) -> tuple[str, dict[str, Any]]:
    kind = rng.random()
    if kind < 0.5:
        environment = rng.choice(("production", "production", "staging"))
        return "api.request", {"endpoint": rng.choice(_ENDPOINTS), "environment": environment}
    if kind < 0.8:
        tokens = rng.randrange(10, 4000)
        return "llm.completion", {
            "model": rng.choice(_MODELS),
            "tokens": tokens,
            "environment": "production",
        }
    if kind < 0.9:
        return "storage.snapshot", {"gb": Decimal(f"{rng.uniform(1, 500):.3f}")}
    return "app.session", {"user": f"user-{rng.randrange(40)}"}

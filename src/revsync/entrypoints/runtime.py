"""Process-wide settings for revsync's long-running and batch commands."""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """Collect cycles less often. Ingestion and billing allocate many short-lived objects;
    with the default thresholds the collector took about half of the decoding time of a
    batch and a seventh of a billing run (docs/benchmarks.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)

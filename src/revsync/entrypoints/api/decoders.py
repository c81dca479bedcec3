"""Decoding processes: large batches decoded and validated beside the server.

A server process holds one usage writer. Decoding and validating a batch (one msgspec pass, the
domain rules, schemas, meters, fingerprints and dedup slots) costs about as much Python as
writing it, and one interpreter lock runs one of them at a time, so on SQLite the second core
sat idle. With ``ingestion.decoders: N``, a structured body over ``INLINE_BYTES`` is decoded
and prepared (:class:`~revsync.application.ingestion.Intake`) in one of N processes of its
own, and the prepared batch comes back to the server, which only classifies and writes it.

What a decoding process reads is what the server would: the moment the batch was received is
the server's, and the schemas are the server's registry as it stands (each process compiles
them again when the registry's mark moves). A process that dies is replaced, and the batch it
held is decoded in the server instead: the request is answered either way.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

import structlog

from revsync.adapters.clock import SystemClock
from revsync.adapters.schema_validator import compile_schema
from revsync.application.ingestion import IngestContext, IngestPolicy, Intake, PreparedBatch
from revsync.application.schemas import SchemaPolicy, Screen, ScreenState, compile_screen
from revsync.config import Settings
from revsync.domain.metering import Meter
from revsync.domain.problems import Problem
from revsync.entrypoints.runtime import tune_gc
from revsync.schemas.cloudevents_v1 import BodyError, TooManyItems, decode_body

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class DecoderSetup:
    """What a decoding process needs to validate as the server does (all of it plain data)."""

    meters: tuple[Meter, ...]
    policy: IngestPolicy
    schema_policy: SchemaPolicy
    metered: frozenset[str]

    @classmethod
    def of(cls, settings: Settings) -> DecoderSetup:
        from revsync.bootstrap import schema_policy  # the server only: decoders start light

        policy, metered = schema_policy(settings)
        max_future = timedelta(hours=settings.ingestion.max_future_hours)
        return cls(tuple(settings.domain_meters()), IngestPolicy(max_future), policy, metered)


class _Job(NamedTuple):
    body: bytes
    media: str
    most: int
    context: IngestContext
    received_at: datetime
    screen: ScreenState


class _Refused(NamedTuple):
    """A body refused as a whole: what the server raises for it (exceptions with their own
    fields do not cross a process boundary whole)."""

    problem: Problem | None  # BodyError
    items: int | None  # TooManyItems, when problem is None


class _Worker:
    """The state of one decoding process: its intake and the screen last compiled."""

    def __init__(self, setup: DecoderSetup) -> None:
        self.setup = setup
        self.seen: object = _NEVER
        self.screen: Screen | None = None
        self.intake = Intake(SystemClock(), setup.meters, setup.policy, screen=self.current)

    def current(self) -> Screen | None:
        return self.screen

    def prepare(self, job: _Job) -> PreparedBatch | _Refused:
        if job.screen.seen != self.seen:
            setup = self.setup
            self.screen = compile_screen(
                job.screen.stored, compile_schema, setup.metered, setup.schema_policy
            )
            self.seen = job.screen.seen
        return _decoded(job, self.intake)


_NEVER = object()
_worker: _Worker | None = None


def _start(setup: DecoderSetup) -> None:
    global _worker  # one per decoding process, set once as it starts
    _worker = _Worker(setup)
    tune_gc()


def _ready() -> None:
    """Nothing: sent at start, so that the processes are up before the first batch."""


def _prepare(job: _Job) -> PreparedBatch | _Refused:
    assert _worker is not None, "a decoding process starts with its setup"
    return _worker.prepare(job)


class Decoders:
    """A pool of decoding processes (started with the server, replaced if one dies)."""

    def __init__(self, setup: DecoderSetup, processes: int) -> None:
        self._setup = setup
        self._processes = processes
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False

    async def prepare(
        self, body: bytes, media: str, most: int, context: IngestContext, intake: Intake,
        received_at: datetime, screen: ScreenState,
    ) -> PreparedBatch:  # fmt: skip
        """The prepared batch of a structured body (raises :class:`BodyError` or
        :class:`TooManyItems` as :func:`decode_body` does). ``intake`` decodes it in this
        process if the decoding process dies."""
        job = _Job(body, media, most, context, received_at, screen)
        pool = self._running()
        try:
            outcome = await asyncio.wrap_future(pool.submit(_prepare, job))
        except BrokenProcessPool:
            log.warning("a decoding process died; decoding this batch in the server")
            self._replace(pool)
            outcome = await asyncio.to_thread(_decoded, job, intake)
        if isinstance(outcome, _Refused):
            if outcome.problem is not None:
                raise BodyError(outcome.problem)
            raise TooManyItems(outcome.items)
        return outcome

    def start(self) -> None:
        """Start the processes now and wait until they are up (a second or so), rather than
        have the first batches wait for them."""
        pool = self._running()
        for future in [pool.submit(_ready) for _ in range(self._processes)]:
            future.result()

    def pids(self) -> list[int]:
        """The process ids of the decoding processes running now."""
        with self._lock:
            pool = self._pool
        # the executor keeps its processes by pid (no public accessor)
        return sorted(pool._processes) if pool is not None and pool._processes else []

    def close(self) -> None:
        """Stop the processes (a batch they hold is finished first)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _running(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("the decoding processes are stopped")
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self._processes,
                    # a fresh interpreter: the server's threads and locks are not copied
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start,
                    initargs=(self._setup,),
                )
            return self._pool

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:
                self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)


def _decoded(job: _Job, intake: Intake) -> PreparedBatch | _Refused:
    """The batch of ``job`` decoded and prepared by ``intake``."""
    try:
        items = decode_body(job.body, job.media, job.most)
    except BodyError as error:
        return _Refused(error.problem, None)
    except TooManyItems as error:
        return _Refused(None, error.count)
    return intake.prepare(items, job.context, job.received_at)

"""A document store over HTTP that misbehaves on demand.

The target revsync's outbox relay delivers to in tests and demos, so that retries, idempotency
lookups, circuit breakers and crash recovery meet real network failures: 429/500/503 answers,
connection resets (RST), commits whose answer is lost, and stalls.

It speaks HTTP/1.1 with keep-alive (h11 over asyncio streams) from a background thread with its
own event loop, or as a process::

    python -m revsync.sandbox.faults --host 127.0.0.1 --port 8099
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import math
import random
import signal
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import FrameType
from typing import Any, Self
from urllib.parse import unquote

import h11

#: the kinds chaos draws by default (the failures worth retrying), in drawing order
_CHAOS_KINDS = ("429", "500", "503", "reset", "commit_then_drop", "stall")
#: every fault kind: those, plus a refusal (422) and a "not wanted" (410) for scripts
_KINDS = (*_CHAOS_KINDS, "410", "422")
#: the kinds answered with a status, and their error messages
_ANSWERED = {
    "410": "gone: this receiver does not want the document (injected fault)",
    "422": "refused: the document is invalid here (injected fault)",
    "429": "too many requests (injected fault)",
    "500": "internal server error (injected fault)",
    "503": "service unavailable (injected fault)",
}
_RETRY_AFTER_KINDS = frozenset({"429", "503"})
_BY_KEY = "/documents/by-key/"
_CHUNK = 65536
_MAX_BODY = 16 * 1024 * 1024
_START_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected failure, taken by one document POST instead of normal handling.

    ``kind`` is one of "429", "500", "503", "stall", "reset", "commit_then_drop", or the
    non-retriable "410" (not wanted) and "422" (refused);
    ``retry_after`` (seconds, for 429/503) is sent as an integer-seconds ``Retry-After``
    header, rounded up; ``seconds`` is how long a "stall" holds the request before the
    connection is aborted without an answer.
    """

    kind: str
    retry_after: float | None = None
    seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {_KINDS}")
        if self.retry_after is not None:
            _check_seconds("retry_after", self.retry_after)
        _check_seconds("seconds", self.seconds)


def _check_seconds(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, not {value!r}")


@dataclass(frozen=True, slots=True)
class _Chaos:
    """Random faults: each draw fails with probability ``rate``, the kind drawn by weight."""

    rate: float
    kinds: tuple[str, ...]
    weights: tuple[float, ...]
    rng: random.Random
    retry_after: float | None
    stall_seconds: float

    def draw(self) -> Fault | None:
        """The fault for the next document POST, or None; one random() per POST."""
        if self.rng.random() >= self.rate:
            return None
        kind = self.rng.choices(self.kinds, self.weights)[0]
        retry_after = self.retry_after if kind in _RETRY_AFTER_KINDS else None
        return Fault(kind, retry_after=retry_after, seconds=self.stall_seconds)


def _make_chaos(
    rate: float,
    kinds: Mapping[str, float] | None,
    seed: int,
    retry_after: float | None,
    stall_seconds: float,
) -> _Chaos | None:
    """Validated chaos settings; None when ``rate`` is 0 (chaos off)."""
    if not 0 <= rate <= 1:
        raise ValueError(f"rate must be between 0 and 1, not {rate!r}")
    weights = dict.fromkeys(_CHAOS_KINDS, 1.0) if kinds is None else dict(kinds)
    unknown = sorted(set(weights) - set(_KINDS))
    if unknown:
        raise ValueError(f"unknown fault kinds {unknown}; expected some of {_KINDS}")
    if any(not math.isfinite(w) or w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError("kind weights must be finite, >= 0 and not all 0")
    Fault("503", retry_after=retry_after, seconds=stall_seconds)  # validates both
    if rate == 0:
        return None
    return _Chaos(
        rate=rate,
        kinds=tuple(weights),
        weights=tuple(weights.values()),
        rng=random.Random(seed),
        retry_after=retry_after,
        stall_seconds=stall_seconds,
    )


def _zero_counts() -> dict[str, int]:
    names = ["posts", "lookups", "faults", "committed", *(f"fault_{k}" for k in _KINDS)]
    return dict.fromkeys(names, 0)


@dataclass
class _Data:
    """Everything reset_data() forgets."""

    documents: list[dict[str, Any]] = field(default_factory=list)
    first_by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    commits: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=_zero_counts)
    script: deque[Fault] = field(default_factory=deque)
    chaos: _Chaos | None = None


class _Store:
    """The documents, counters, scripted faults and chaos; every method holds the lock.

    Stored bodies are never mutated and never handed out (accessors return deep copies).
    """

    def __init__(self, dedupe: bool) -> None:
        self._lock = threading.Lock()
        self._dedupe = dedupe
        self._data = _Data()

    def reset(self) -> None:
        with self._lock:
            self._data = _Data()

    def count(self, name: str) -> None:
        with self._lock:
            self._data.counts[name] += 1

    def add_script(self, faults: Iterable[Fault]) -> None:
        with self._lock:
            self._data.script.extend(faults)

    def set_chaos(self, chaos: _Chaos | None) -> None:
        with self._lock:
            self._data.chaos = chaos

    def take_fault(self) -> Fault | None:
        """The next scripted fault, else a chaos draw; counted when there is one."""
        with self._lock:
            data = self._data
            if data.script:
                fault: Fault | None = data.script.popleft()
            else:
                fault = data.chaos.draw() if data.chaos is not None else None
            if fault is not None:
                data.counts["faults"] += 1
                data.counts[f"fault_{fault.kind}"] += 1
            return fault

    def commit(
        self, key: str, body: Any, headers: dict[str, str] | None = None, raw: bytes = b""
    ) -> tuple[int, bool]:
        """Commit a document; (its id, True), or (the existing id, False) when deduplicated.
        The request's headers and raw body are kept with it (to check signatures)."""
        with self._lock:
            data = self._data
            existing = data.first_by_key.get(key)
            if self._dedupe and existing is not None:
                return existing["id"], False
            document = {
                "id": len(data.documents) + 1,
                "key": key,
                "body": body,
                "received_at": time.time(),
                "headers": headers or {},
                "raw": raw,
            }
            data.documents.append(document)
            data.first_by_key.setdefault(key, document)
            data.commits[key] = data.commits.get(key, 0) + 1
            data.counts["committed"] += 1
            return document["id"], True

    def lookup(self, key: str) -> dict[str, Any] | None:
        """``{"id", "key", "body"}`` of the first document under ``key``; counted."""
        with self._lock:
            self._data.counts["lookups"] += 1
            document = self._data.first_by_key.get(key)
            if document is None:
                return None
            return {name: document[name] for name in ("id", "key", "body")}

    def documents(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._data.documents)

    def commits(self) -> dict[str, int]:
        with self._lock:
            return dict(self._data.commits)

    def stats(self, *, with_documents: bool = False) -> dict[str, int]:
        with self._lock:
            stats = dict(self._data.counts)
            if with_documents:
                stats["documents"] = len(self._data.documents)
            return stats


@dataclass(frozen=True, slots=True)
class _Request:
    """One complete HTTP request."""

    method: str
    path: str
    headers: Sequence[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        """The first value of a header (``name`` in lower case), or None."""
        return next((value for key, value in self.headers if key == name), None)


@dataclass(frozen=True, slots=True)
class _Reply:
    """An answer: status, JSON payload (None for no body) and extra headers."""

    status: int
    payload: Any = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class _Drop:
    """No answer: abort the connection with a RST after ``after`` seconds."""

    after: float = 0.0


class _BadRequest(Exception):
    """The request could not be read; answer ``reply`` and close."""

    def __init__(self, reply: _Reply) -> None:
        super().__init__(reply.payload)
        self.reply = reply


def _error(status: int, message: str) -> _Reply:
    return _Reply(status, {"error": message})


class FaultServer:
    """The misbehaving document store, served from a background thread.

    ``start()``/``stop()`` (or ``with``) are meant to be called from one thread; the
    accessors and fault controls may be called from any thread at any time.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, dedupe: bool = False) -> None:
        self._host = host
        self._port = port
        self._store = _Store(dedupe)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._bound_port: int | None = None
        self._error: OSError | None = None
        self._connections: set[asyncio.Task[Any]] = set()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind (port 0: an ephemeral port) and serve; returns once listening."""
        if self._thread is not None:
            raise RuntimeError("FaultServer already started")
        ready = threading.Event()
        self._error = None
        thread = threading.Thread(target=self._run, args=(ready,), name="FaultServer", daemon=True)
        thread.start()
        if not ready.wait(_START_TIMEOUT):
            raise RuntimeError("FaultServer did not start listening in time")
        if self._error is not None:
            thread.join()
            raise self._error
        self._thread = thread
        return self

    def stop(self) -> None:
        """Close the listener and every open connection, join the thread; idempotent."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None or loop is None or stopping is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop.call_soon_threadsafe(stopping.set)
        thread.join()
        self._thread = self._loop = self._stopping = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://host:port`` of the listening server."""
        if self._bound_port is None:
            raise RuntimeError("FaultServer not started")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._bound_port}"

    # -- fault controls and accessors ------------------------------------------------------

    def script(self, *faults: Fault) -> None:
        """Queue faults: each of the next document POSTs takes the next one (FIFO)."""
        self._store.add_script(faults)

    def chaos(
        self,
        rate: float,
        kinds: Mapping[str, float] | None = None,
        *,
        seed: int = 0,
        retry_after: float | None = None,
        stall_seconds: float = 30.0,
    ) -> None:
        """When the script is empty, fail each document POST with probability ``rate``.

        The kind is drawn with ``kinds`` weights (default: equal over all kinds) from
        ``random.Random(seed)``; ``rate=0`` turns chaos off.
        """
        self._store.set_chaos(_make_chaos(rate, kinds, seed, retry_after, stall_seconds))

    def documents(self) -> list[dict[str, Any]]:
        """Every committed document: ``{"id", "key", "body", "received_at"}`` (epoch s), with
        the request's ``headers`` (lower-case names) and ``raw`` body."""
        return self._store.documents()

    def commits(self) -> dict[str, int]:
        """Idempotency key → how many documents were committed under it."""
        return self._store.commits()

    def stats(self) -> dict[str, int]:
        """Counters: posts, lookups, faults, committed, and fault_<kind> for every kind."""
        return self._store.stats()

    def reset_data(self) -> None:
        """Forget documents (ids restart at 1), counters, script and chaos."""
        self._store.reset()

    # -- the event loop thread -------------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        asyncio.run(self._main(ready))

    async def _main(self, ready: threading.Event) -> None:
        try:
            server = await asyncio.start_server(self._connection, self._host, self._port)
        except OSError as exc:
            self._error = exc
            ready.set()
            return
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._bound_port = server.sockets[0].getsockname()[1]
        ready.set()
        await self._stopping.wait()
        server.close()
        await asyncio.sleep(0)  # connections accepted just now register themselves
        connections = list(self._connections)
        for task in connections:
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)
        await server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client connection, from accept to close or abort."""
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        graceful = False
        try:
            graceful = await self._converse(reader, writer)
        except (OSError, h11.ProtocolError, asyncio.CancelledError):
            # the client went away, or stop(): abort; not re-raised, as asyncio.streams
            # (3.11) logs a connection task that ends cancelled
            pass
        finally:
            if task is not None:
                self._connections.discard(task)
            if graceful:
                writer.close()
            else:
                _abort(writer)

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve requests until the connection ends; False when it must be aborted."""
        conn = h11.Connection(h11.SERVER)
        while True:
            try:
                request = await _read_request(conn, reader, writer)
            except _BadRequest as bad:
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    await _send(conn, writer, bad.reply, head=False)
                return True
            if request is None:
                return True
            outcome = self._handle(request)
            if isinstance(outcome, _Drop):
                await asyncio.sleep(outcome.after)
                return False
            await _send(conn, writer, outcome, head=request.method == "HEAD")
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return True
            conn.start_next_cycle()

    # -- routes ----------------------------------------------------------------------------

    def _handle(self, request: _Request) -> _Reply | _Drop:
        route = (request.method, request.path)
        if route == ("POST", "/documents"):
            return self._post_document(request)
        if request.method == "GET" and request.path.startswith(_BY_KEY):
            return self._lookup(request.path.removeprefix(_BY_KEY))
        if route == ("GET", "/_stats"):
            return _Reply(200, self._store.stats(with_documents=True))
        if route == ("POST", "/_faults"):
            return self._post_faults(request.body)
        if route == ("POST", "/_reset"):
            self.reset_data()
            return _Reply(204)
        return _error(404, "not found")

    def _post_document(self, request: _Request) -> _Reply | _Drop:
        """Validate, then either take the next fault or commit normally."""
        self._store.count("posts")
        key = _idempotency_key(request)
        if key is None:
            return _error(400, "Idempotency-Key header required")
        try:
            body = _parse_json(request.body)
        except ValueError:
            return _error(400, "invalid JSON")
        fault = self._store.take_fault()
        if fault is None:
            return self._commit(key, body, request)
        return self._apply(fault, key, body, request)

    def _commit(self, key: str, body: Any, request: _Request) -> _Reply:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers}
        document_id, created = self._store.commit(key, body, headers, request.body)
        return _Reply(201 if created else 200, {"id": document_id, "key": key})

    def _apply(self, fault: Fault, key: str, body: Any, request: _Request) -> _Reply | _Drop:
        if fault.kind in _ANSWERED:
            headers: tuple[tuple[str, str], ...] = ()
            if fault.retry_after is not None:
                headers = (("Retry-After", str(math.ceil(fault.retry_after))),)
            return _Reply(int(fault.kind), {"error": _ANSWERED[fault.kind]}, headers)
        if fault.kind == "commit_then_drop":
            self._commit(key, body, request)
        return _Drop(fault.seconds if fault.kind == "stall" else 0.0)

    def _lookup(self, segment: str) -> _Reply:
        try:
            key = unquote(segment, errors="strict")
        except UnicodeDecodeError:
            return _error(400, "key is not UTF-8")
        document = self._store.lookup(key) if segment and "/" not in segment else None
        return _error(404, "not found") if document is None else _Reply(200, document)

    def _post_faults(self, raw: bytes) -> _Reply:
        """``{"script": [fault, ...], "chaos": {...}}``, both optional; applied together."""
        try:
            config = _json_object(_parse_json(raw), "body")
            unknown = sorted(set(config) - {"script", "chaos"})
            if unknown:
                raise ValueError(f"unknown fields {unknown}")
            script = [_fault_from_json(item) for item in _json_list(config.get("script", []))]
            chaos = _chaos_from_json(config["chaos"]) if "chaos" in config else None
        except (ValueError, TypeError) as exc:
            return _error(400, str(exc))
        self._store.add_script(script)
        if "chaos" in config:
            self._store.set_chaos(chaos)
        return _Reply(204)


# -- HTTP over asyncio streams ---------------------------------------------------------------


async def _read_request(
    conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> _Request | None:
    """The next complete request, or None when the client closed the connection."""
    head: h11.Request | None = None
    body = bytearray()
    while True:
        event = _next_event(conn)
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(_CHUNK))
        elif isinstance(event, h11.Request):
            head = event
            if conn.they_are_waiting_for_100_continue:
                writer.write(
                    conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b""
                )
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > _MAX_BODY:
                raise _BadRequest(_error(413, "request body too large"))
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            return _Request(
                method=head.method.decode("ascii"),
                path=head.target.decode("latin-1").partition("?")[0],
                headers=list(head.headers),
                body=bytes(body),
            )
        else:
            return None


def _next_event(conn: h11.Connection) -> Any:
    """conn.next_event(), with a malformed request turned into a _BadRequest."""
    try:
        return conn.next_event()
    except h11.RemoteProtocolError as exc:
        raise _BadRequest(_error(exc.error_status_hint, f"bad request: {exc}")) from exc


async def _send(
    conn: h11.Connection, writer: asyncio.StreamWriter, reply: _Reply, *, head: bool
) -> None:
    """Write a whole response; JSON with Content-Type and Content-Length unless 204."""
    body = b"" if reply.payload is None else json.dumps(reply.payload).encode()
    headers = list(reply.headers)
    if reply.status != 204:
        headers += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    reason = HTTPStatus(reply.status).phrase.encode()
    out = conn.send(h11.Response(status_code=reply.status, headers=headers, reason=reason)) or b""
    if body and not head:
        out += conn.send(h11.Data(data=body)) or b""
    out += conn.send(h11.EndOfMessage()) or b""
    writer.write(out)
    await writer.drain()


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a RST: SO_LINGER (1, 0), then abort the transport."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


# -- request parsing -------------------------------------------------------------------------


def _idempotency_key(request: _Request) -> str | None:
    raw = request.header(b"idempotency-key")
    if raw is None:
        return None
    try:
        key = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None
    return key or None


def _parse_json(raw: bytes) -> Any:
    """Standard JSON (no NaN/Infinity); any failure is a ValueError."""
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a JSON object")
    return value


def _json_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("script must be a JSON array")
    return value


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number")
    return float(value)


def _optional_number(value: Any, name: str) -> float | None:
    return None if value is None else _number(value, name)


def _fault_from_json(value: Any) -> Fault:
    """``{"kind": "503", "retry_after": 1, "seconds": 30}`` → Fault."""
    item = _json_object(value, "a script entry")
    unknown = sorted(set(item) - {"kind", "retry_after", "seconds"})
    if unknown:
        raise ValueError(f"unknown fault fields {unknown}")
    kind = item.get("kind")
    if not isinstance(kind, str):
        raise TypeError("fault kind must be a string")
    return Fault(
        kind,
        retry_after=_optional_number(item.get("retry_after"), "retry_after"),
        seconds=_number(item.get("seconds", 30.0), "seconds"),
    )


def _chaos_from_json(value: Any) -> _Chaos | None:
    """``{"rate": 0.3, "kinds": {...}, "seed": 1, "retry_after": 1, "stall_seconds": 30}``."""
    item = _json_object(value, "chaos")
    unknown = sorted(set(item) - {"rate", "kinds", "seed", "retry_after", "stall_seconds"})
    if unknown:
        raise ValueError(f"unknown chaos fields {unknown}")
    kinds = item.get("kinds")
    if kinds is not None:
        kinds = {k: _number(w, "a kind weight") for k, w in _json_object(kinds, "kinds").items()}
    seed = item.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError("seed must be an integer")
    return _make_chaos(
        _number(item.get("rate"), "rate"),
        kinds,
        seed,
        _optional_number(item.get("retry_after"), "retry_after"),
        _number(item.get("stall_seconds", 30.0), "stall_seconds"),
    )


# -- command line ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; prints the URL once listening."""
    parser = argparse.ArgumentParser(
        prog="python -m revsync.sandbox.faults",
        description="A document store over HTTP that misbehaves on demand (POST /_faults).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099, help="0 for an ephemeral port")
    parser.add_argument("--dedupe", action="store_true", help="commit each key only once")
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with FaultServer(args.host, args.port, dedupe=args.dedupe) as server:
            print(server.url, flush=True)
            stop.wait()
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

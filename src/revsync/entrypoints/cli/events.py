"""``revsync events``: read revsync's own event stream (NATS JetStream, ``events.*`` in the
config; the events are written by ``adapters/connectors/events_stream.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from revsync.domain.delivery import ANNOUNCED_EVENTS
from revsync.entrypoints.cli.context import (
    UNAVAILABLE,
    ConfigOption,
    err_console,
    settings_from,
)
from revsync.schemas.events_v1 import subject_of

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext

events_app = typer.Typer(
    help="revsync's own event stream (CloudEvents on NATS JetStream): read it.",
    no_args_is_help=True,
)

#: how long ``--no-follow`` waits for a message before asking the server whether any is left
_IDLE_SECONDS = 1.0
#: the server drops the consumer this long after the command stopped without deleting it
_INACTIVE_SECONDS = 30.0
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class _Stop(Exception):
    """The tail cannot go on: one line for stderr, and the exit status."""

    def __init__(self, line: str, status: int) -> None:
        super().__init__(line)
        self.line = line
        self.status = status


@dataclass(frozen=True, slots=True)
class _Tail:
    """What to read, from where, and when to stop."""

    url: str
    stream: str
    prefix: str
    types: tuple[str, ...]
    start_time: datetime | None
    start_seq: int | None
    count: int | None
    follow: bool
    timeout: float


@events_app.command("tail")
def events_tail(
    types: Annotated[
        list[str] | None,
        typer.Option(
            "--type",
            help="Only events of this type (invoice.posted, …); repeat for several.",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Start at events stored this long ago (15m, 2h, 7d) or since an ISO time "
            "with an offset (2026-11-01T00:00:00Z)."
        ),
    ] = None,
    from_seq: Annotated[
        int | None,
        typer.Option("--from-seq", help="Start at this stream sequence.", min=1),
    ] = None,
    count: Annotated[
        int | None, typer.Option("--count", help="Stop after this many events.", min=1)
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow/--no-follow",
            help="Wait for new events (default), or stop once caught up with the stream.",
        ),
    ] = True,
    config: ConfigOption = None,
) -> None:
    """Print the events of the stream, one CloudEvent (as stored) a line on stdout.

    Where it starts: --since (by stored time), --from-seq (by stream sequence); neither: only
    new events with --follow, every event in the stream with --no-follow. --no-follow stops
    once the consumer has nothing pending. One --type is filtered by the server (the
    consumer's filter subject <prefix>.<type>); several are filtered here, on a consumer of
    <prefix>.> (filter_subjects needs NATS 2.10). The consumer is an ephemeral ordered push
    consumer, deleted when the command ends (else dropped by the server 30 s later).

    Exit status: 0; 2 for a configuration or option error (no events.nats_url, an unknown
    type); 69 when NATS cannot be reached, the connection is lost or the stream does not
    exist; 1 when JetStream refuses the consumer; 130 on Ctrl-C.
    """
    settings = settings_from(config)
    events = settings.events
    if events.nats_url is None:
        _fail(
            "configuration error: events.nats_url is not set (revsync events tail reads the "
            "event stream at that NATS server)",
            2,
        )
    wanted = tuple(dict.fromkeys(types or ()))
    unknown = [kind for kind in wanted if kind not in ANNOUNCED_EVENTS]
    if unknown:
        _fail(
            f"--type: unknown event type {', '.join(unknown)} "
            f"(known: {', '.join(sorted(ANNOUNCED_EVENTS))})",
            2,
        )
    if since is not None and from_seq is not None:
        _fail("--since and --from-seq: give one of them", 2)
    tail = _Tail(
        url=events.nats_url,
        stream=events.stream,
        prefix=events.subject_prefix,
        types=wanted,
        start_time=None if since is None else _start_time(since),
        start_seq=from_seq,
        count=count,
        follow=follow,
        timeout=events.timeout_seconds,
    )
    try:
        asyncio.run(_run(tail))
    except _Stop as stop:
        _fail(stop.line, stop.status)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _fail(line: str, status: int) -> NoReturn:
    err_console.print(
        line if line.startswith("configuration error") else f"revsync events tail: {line}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(status)


def _start_time(value: str) -> datetime:
    """``--since``: a duration back from now, or an ISO time with an offset."""
    duration = _DURATION.match(value)
    if duration:
        amount, unit = duration.groups()
        return datetime.now(UTC) - timedelta(**{_UNITS[unit]: int(amount)})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        _fail(
            f"--since: {value!r} is neither a duration (15m, 2h, 7d) nor an ISO time "
            "(2026-11-01T00:00:00Z)",
            2,
        )
    if moment.tzinfo is None:
        _fail(f"--since: {value!r} needs a UTC offset (Z or +01:00)", 2)
    return moment


async def _run(tail: _Tail) -> None:
    import nats
    from nats.errors import Error as NatsError

    seen: list[BaseException] = []

    async def remember(error: Exception) -> None:  # instead of nats-py's logging of it
        seen.append(error)

    try:
        client = await nats.connect(
            tail.url,
            connect_timeout=max(1, round(tail.timeout)),
            allow_reconnect=False,
            # nats-py tries a server max_reconnect_attempts + 1 times even on the first
            # connect (0 means: forever)
            max_reconnect_attempts=1,
            reconnect_time_wait=0.2,
            error_cb=remember,
            name="revsync events tail",
        )
    except (NatsError, OSError, TimeoutError) as error:
        cause = seen[-1] if seen else error
        raise _Stop(f"NATS at {tail.url} is unreachable ({_name(cause)})", UNAVAILABLE) from None
    try:
        await _read(client.jetstream(timeout=tail.timeout), tail)
    except (NatsError, OSError, TimeoutError) as error:
        from nats.errors import NoRespondersError
        from nats.js.errors import APIError, ServiceUnavailableError

        if isinstance(error, NoRespondersError | ServiceUnavailableError):
            raise _Stop(
                f"NATS at {tail.url} has no JetStream (nats-server -js)", UNAVAILABLE
            ) from None
        if isinstance(error, APIError):
            raise _Stop(f"JetStream refused: {error}", 1) from None
        if client.is_closed or not seen:
            what = "lost the connection to" if client.is_closed else "no answer from"
            raise _Stop(f"{what} NATS at {tail.url} ({_name(error)})", UNAVAILABLE) from None
        raise _Stop(
            f"lost the connection to NATS at {tail.url} ({_name(seen[-1])})", UNAVAILABLE
        ) from None
    finally:
        with contextlib.suppress(NatsError, OSError, TimeoutError):
            await client.close()


async def _read(js: JetStreamContext, tail: _Tail) -> None:
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.api import ConsumerConfig, DeliverPolicy
    from nats.js.errors import NotFoundError

    try:
        await js.stream_info(tail.stream)
    except NotFoundError:
        raise _Stop(
            f"stream {tail.stream} does not exist at NATS {tail.url} (nothing published yet, "
            "or events.stream names another)",
            UNAVAILABLE,
        ) from None
    if tail.start_time is not None:
        policy = DeliverPolicy.BY_START_TIME
    elif tail.start_seq is not None:
        policy = DeliverPolicy.BY_START_SEQUENCE
    else:
        policy = DeliverPolicy.NEW if tail.follow else DeliverPolicy.ALL
    single = len(tail.types) == 1
    subject = subject_of(tail.prefix, tail.types[0]) if single else f"{tail.prefix}.>"
    kept = {subject_of(tail.prefix, kind) for kind in tail.types} if not single else set()
    sub = await js.subscribe(
        subject,
        stream=tail.stream,
        ordered_consumer=True,
        config=ConsumerConfig(
            deliver_policy=policy,
            opt_start_time=tail.start_time,
            opt_start_seq=tail.start_seq,
            inactive_threshold=_INACTIVE_SECONDS,
        ),
    )
    try:
        printed = 0
        if not tail.follow:
            info = await sub.consumer_info()
            if info.num_pending == 0 and (
                info.delivered is None or not info.delivered.consumer_seq
            ):
                return  # nothing to read
        while tail.count is None or printed < tail.count:
            try:
                msg = await sub.next_msg(timeout=_IDLE_SECONDS)
            except NatsTimeout:
                if tail.follow:
                    continue
                info = await sub.consumer_info()
                if info.num_pending == 0 and sub.pending_msgs == 0:
                    return
                continue
            if not kept or msg.subject in kept:
                _print(msg)
                printed += 1
            if not tail.follow and msg.metadata.num_pending == 0:
                return
    finally:
        consumer = sub._consumer  # nats-py keeps the current one there (ordered: renewed)
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
        with contextlib.suppress(Exception):
            await js.delete_consumer(tail.stream, consumer)


def _print(msg: Msg) -> None:
    typer.echo(msg.data)


def _name(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__

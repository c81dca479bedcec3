"""Structured logs with structlog: JSON lines on standard error, with request context.

Entry points bind ``request_id`` and ``correlation_id`` with
``structlog.contextvars.bind_contextvars``; every log line of that request carries them, and
``trace_id`` / ``span_id`` when it is written inside a trace.
revsync's own loggers use structlog's native path (a level filter that costs nothing when a
line is not wanted); the standard library's loggers (uvicorn, SQLAlchemy) are rendered the
same way through a handler. Secrets never go into log events: API keys are logged by id.
"""

from __future__ import annotations

import logging
import sys

import msgspec
import structlog

from revsync.observability.tracing import trace_ids

_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
}
_encode = msgspec.json.Encoder(enc_hook=str, decimal_format="string").encode


def _dumps(event: object, **_: object) -> str:
    """One JSON line; values JSON cannot hold are written as their text."""
    return _encode(event).decode()


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of writing (a command run in process
    — by a test — may swap it for a while; a logger must not keep the swapped-out one)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _trace_ids(
    _logger: object, _method: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    """``trace_id`` and ``span_id`` of the current span on every line written inside one."""
    for name, value in trace_ids().items():
        event.setdefault(name, value)
    return event


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Send structlog and standard-library logs, rendered alike, to standard error."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        _trace_ids,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(serializer=_dumps)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.WriteLoggerFactory(_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)

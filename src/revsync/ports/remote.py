"""What the ports of outside systems (the CRM, the support tool) share: how an unreachable or
busy system is reported, so that their outbox destinations classify it the same way."""

from __future__ import annotations

from revsync.domain.delivery import Attempt, ErrorClass


class Unavailable(Exception):
    """The system could not be reached, is busy or has no request budget left; retry later.
    ``retry_after`` (seconds) when it said how long to wait; ``sent`` tells whether the request
    may have arrived; ``outage`` is False when it answered with a transient failure of this
    request (the system itself is up)."""

    def __init__(
        self,
        message: str,
        *,
        sent: bool,
        retry_after: float | None = None,
        outage: bool = True,
    ) -> None:
        super().__init__(message)
        self.sent = sent
        self.retry_after = retry_after
        self.outage = outage


def unavailable_attempt(error: Unavailable) -> Attempt:
    """The delivery attempt an unavailable system makes: an outage, or a retriable failure of
    this request; ambiguous when the request may have arrived."""
    return Attempt.failed(
        ErrorClass.UNAVAILABLE if error.outage else ErrorClass.RETRIABLE,
        str(error),
        retry_after=error.retry_after,
        ambiguous=error.sent,
    )

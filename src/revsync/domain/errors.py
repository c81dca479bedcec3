"""Errors raised by domain rules. Each names the field at fault and the reason."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule was broken."""


class InvalidField(DomainError):
    """A value is not acceptable; ``field`` names it, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFound(DomainError):
    """The object asked for does not exist."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class Conflict(DomainError):
    """The change contradicts the current state (e.g. a tenant owned by another customer)."""

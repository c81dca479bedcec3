from enum import StrEnum


class MessageStatus(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    IGNORED = "ignored"
    IN_FLIGHT = "in_flight"
    PENDING = "pending"
    RESOLVED = "resolved"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return str(self.value)

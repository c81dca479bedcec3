from enum import StrEnum


class CaseStatus(StrEnum):
    IGNORED = "ignored"
    OPEN = "open"
    RESOLVED = "resolved"
    RETRYING = "retrying"

    def __str__(self) -> str:
        return str(self.value)

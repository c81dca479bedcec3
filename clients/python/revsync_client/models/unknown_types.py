from enum import StrEnum


class UnknownTypes(StrEnum):
    ACCEPT = "accept"
    QUARANTINE = "quarantine"
    REJECT = "reject"

    def __str__(self) -> str:
        return str(self.value)

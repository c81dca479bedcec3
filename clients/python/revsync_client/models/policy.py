from enum import StrEnum


class Policy(StrEnum):
    SOFT_LIMIT = "soft_limit"
    SUSPEND = "suspend"

    def __str__(self) -> str:
        return str(self.value)

from enum import StrEnum


class Verdict(StrEnum):
    AT_RISK = "at_risk"
    EXPANSION = "expansion"
    HEALTHY = "healthy"

    def __str__(self) -> str:
        return str(self.value)

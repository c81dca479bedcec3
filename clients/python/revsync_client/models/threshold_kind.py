from enum import StrEnum


class ThresholdKind(StrEnum):
    PERCENT = "percent"
    SPEND = "spend"
    USAGE = "usage"

    def __str__(self) -> str:
        return str(self.value)

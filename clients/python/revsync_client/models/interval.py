from enum import StrEnum


class Interval(StrEnum):
    HALF_YEAR = "half_year"
    MONTH = "month"
    QUARTER = "quarter"
    WEEK = "week"
    YEAR = "year"

    def __str__(self) -> str:
        return str(self.value)

from enum import StrEnum


class LineKind(StrEnum):
    ADJUSTMENT = "adjustment"
    CAP = "cap"
    CREDIT = "credit"
    DISCOUNT = "discount"
    MINIMUM = "minimum"
    PRORATION = "proration"
    RECURRING = "recurring"
    USAGE = "usage"

    def __str__(self) -> str:
        return str(self.value)

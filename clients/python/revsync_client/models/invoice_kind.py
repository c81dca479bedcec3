from enum import StrEnum


class InvoiceKind(StrEnum):
    ADJUSTMENT = "adjustment"
    ADVANCE = "advance"
    ARREARS = "arrears"
    CONSOLIDATED = "consolidated"
    CREDIT_NOTE = "credit_note"
    INTERIM = "interim"
    USAGE = "usage"

    def __str__(self) -> str:
        return str(self.value)

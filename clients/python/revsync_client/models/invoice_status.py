from enum import StrEnum


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    FINALIZED = "finalized"
    PAID = "paid"
    POSTED = "posted"
    VOID = "void"

    def __str__(self) -> str:
        return str(self.value)

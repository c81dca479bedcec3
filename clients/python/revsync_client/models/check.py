from enum import StrEnum


class Check(StrEnum):
    CRM = "crm"
    ERP = "erp"
    USAGE = "usage"

    def __str__(self) -> str:
        return str(self.value)

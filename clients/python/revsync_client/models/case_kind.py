from enum import StrEnum


class CaseKind(StrEnum):
    BILLING = "billing"
    DEAL = "deal"
    DELIVERY = "delivery"
    OUTAGE = "outage"
    RECONCILIATION = "reconciliation"
    SERVICE_CREDIT = "service_credit"
    UNMAPPED_USAGE = "unmapped_usage"

    def __str__(self) -> str:
        return str(self.value)

from enum import StrEnum


class EntitlementReason(StrEnum):
    INCLUDED = "included"
    NOT_IN_PLAN = "not_in_plan"
    NO_SUBSCRIPTION = "no_subscription"
    OVER_LIMIT = "over_limit"
    OVER_SOFT_LIMIT = "over_soft_limit"
    SUSPENDED = "suspended"
    WITHIN_LIMIT = "within_limit"

    def __str__(self) -> str:
        return str(self.value)

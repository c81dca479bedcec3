from enum import StrEnum


class Change(StrEnum):
    CANCEL = "cancel"
    CREATED = "created"
    DOWNGRADE = "downgrade"
    PLAN_CHANGE = "plan_change"
    RENEWAL = "renewal"
    SEAT_CHANGE = "seat_change"
    TRIAL_CHANGE = "trial_change"
    UPGRADE = "upgrade"

    def __str__(self) -> str:
        return str(self.value)

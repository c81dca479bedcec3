from enum import StrEnum


class ChargeModel(StrEnum):
    ALLOWANCE = "allowance"
    FLAT = "flat"
    GRADUATED = "graduated"
    PACKAGE = "package"
    PERCENTAGE = "percentage"
    PER_DIMENSION = "per_dimension"
    PER_SEAT = "per_seat"
    PER_UNIT = "per_unit"
    VOLUME = "volume"

    def __str__(self) -> str:
        return str(self.value)

from enum import StrEnum


class FeatureKind(StrEnum):
    BOOLEAN = "boolean"
    QUOTA = "quota"
    SEATS = "seats"

    def __str__(self) -> str:
        return str(self.value)

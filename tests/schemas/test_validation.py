"""The validator's findings read in revsync's words, whatever the validator's release says."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from revsync.schemas.validation import reason


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=5)
    seats: int = Field(ge=1)
    code: str = "x"

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if value == "bad":
            raise ValueError("not a code revsync knows")
        return value


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"seats": 1}, {"name": "required"}),
        ({"name": "abcdef", "seats": 1}, {"name": "at most 5 characters"}),
        ({"name": 5, "seats": 1}, {"name": "expected a string"}),
        ({"name": "a", "seats": 0}, {"seats": "must be at least 1"}),
        ({"name": "a", "seats": "many"}, {"seats": "expected an integer"}),
        ({"name": "a", "seats": 1, "seat": 2}, {"seat": "unknown field"}),
        ({"name": "a", "seats": 1, "code": "bad"}, {"code": "not a code revsync knows"}),
    ],
)
def test_each_problem_reads_in_revsyncs_words(
    given: dict[str, Any], expected: dict[str, str]
) -> None:
    with pytest.raises(ValidationError) as caught:
        Body(**given)
    found = {".".join(map(str, e["loc"])): reason(e) for e in caught.value.errors()}
    assert found == expected


def test_a_problem_of_an_unknown_type_reads_invalid_value() -> None:
    assert reason({"type": "a_type_a_newer_release_added", "msg": "Some wording"}) == (
        "invalid value"
    )

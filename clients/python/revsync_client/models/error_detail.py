from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.error_problem import ErrorProblem


T = TypeVar("T", bound="ErrorDetail")


@_attrs_define
class ErrorDetail:
    """What went wrong, in revsync's words.

    Attributes:
        code (str): Stable: `invalid`, `malformed_body`, `unauthorized`, `forbidden`, `not_found`, `conflict`,
            `refused`, `rate_limited`, `body_too_large`, `too_many_events`, `unsupported_media_type`,
            `idempotency.mismatch`, `idempotency.in_progress`, `idempotency.answer_lost`, `internal`, …
        message (str): `field: reason`, for people.
        request_id (str): Also in the `X-Request-ID` header and the server log.
        field (str | Unset): The field refused, when there is one.
        problems (list[ErrorProblem] | Unset): Every broken rule, when a request breaks several.
    """

    code: str
    message: str
    request_id: str
    field: str | Unset = UNSET
    problems: list[ErrorProblem] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        code = self.code

        message = self.message

        request_id = self.request_id

        field = self.field

        problems: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.problems, Unset):
            problems = []
            for problems_item_data in self.problems:
                problems_item = problems_item_data.to_dict()
                problems.append(problems_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "message": message,
                "request_id": request_id,
            }
        )
        if field is not UNSET:
            field_dict["field"] = field
        if problems is not UNSET:
            field_dict["problems"] = problems

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.error_problem import ErrorProblem  # noqa: PLC0415

        d = dict(src_dict)
        code = d.pop("code")

        message = d.pop("message")

        request_id = d.pop("request_id")

        field = d.pop("field", UNSET)

        _problems = d.pop("problems", UNSET)
        problems: list[ErrorProblem] | Unset = UNSET
        if _problems is not UNSET:
            problems = []
            for problems_item_data in _problems:
                problems_item = ErrorProblem.from_dict(problems_item_data)

                problems.append(problems_item)

        error_detail = cls(
            code=code,
            message=message,
            request_id=request_id,
            field=field,
            problems=problems,
        )

        error_detail.additional_properties = d
        return error_detail

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties

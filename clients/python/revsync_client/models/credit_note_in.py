from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.credit_note_in_lines import CreditNoteInLines


T = TypeVar("T", bound="CreditNoteIn")


@_attrs_define
class CreditNoteIn:
    """
    Attributes:
        lines (CreditNoteInLines): line key → amount to credit
        reason (str | Unset):  Default: ''.
    """

    lines: CreditNoteInLines
    reason: str | Unset = ""

    def to_dict(self) -> dict[str, Any]:
        lines = self.lines.to_dict()

        reason = self.reason

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "lines": lines,
            }
        )
        if reason is not UNSET:
            field_dict["reason"] = reason

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.credit_note_in_lines import CreditNoteInLines  # noqa: PLC0415

        d = dict(src_dict)
        lines = CreditNoteInLines.from_dict(d.pop("lines"))

        reason = d.pop("reason", UNSET)

        credit_note_in = cls(
            lines=lines,
            reason=reason,
        )

        return credit_note_in

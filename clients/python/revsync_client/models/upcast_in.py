from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.upcast_in_defaults import UpcastInDefaults
    from ..models.upcast_in_rename import UpcastInRename


T = TypeVar("T", bound="UpcastIn")


@_attrs_define
class UpcastIn:
    """How data of the version before reads as this one (top-level fields).

    Attributes:
        defaults (UpcastInDefaults | Unset): field → value when absent
        drop (list[str] | Unset):
        rename (UpcastInRename | Unset): old name → new name
    """

    defaults: UpcastInDefaults | Unset = UNSET
    drop: list[str] | Unset = UNSET
    rename: UpcastInRename | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        defaults: dict[str, Any] | Unset = UNSET
        if not isinstance(self.defaults, Unset):
            defaults = self.defaults.to_dict()

        drop: list[str] | Unset = UNSET
        if not isinstance(self.drop, Unset):
            drop = self.drop

        rename: dict[str, Any] | Unset = UNSET
        if not isinstance(self.rename, Unset):
            rename = self.rename.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if defaults is not UNSET:
            field_dict["defaults"] = defaults
        if drop is not UNSET:
            field_dict["drop"] = drop
        if rename is not UNSET:
            field_dict["rename"] = rename

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.upcast_in_defaults import UpcastInDefaults  # noqa: PLC0415
        from ..models.upcast_in_rename import UpcastInRename  # noqa: PLC0415

        d = dict(src_dict)
        _defaults = d.pop("defaults", UNSET)
        defaults: UpcastInDefaults | Unset
        if isinstance(_defaults, Unset):
            defaults = UNSET
        else:
            defaults = UpcastInDefaults.from_dict(_defaults)

        drop = cast(list[str], d.pop("drop", UNSET))

        _rename = d.pop("rename", UNSET)
        rename: UpcastInRename | Unset
        if isinstance(_rename, Unset):
            rename = UNSET
        else:
            rename = UpcastInRename.from_dict(_rename)

        upcast_in = cls(
            defaults=defaults,
            drop=drop,
            rename=rename,
        )

        return upcast_in

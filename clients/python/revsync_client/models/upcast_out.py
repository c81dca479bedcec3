from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.upcast_out_defaults import UpcastOutDefaults
    from ..models.upcast_out_rename import UpcastOutRename


T = TypeVar("T", bound="UpcastOut")


@_attrs_define
class UpcastOut:
    """
    Attributes:
        defaults (UpcastOutDefaults):
        drop (list[str]):
        rename (UpcastOutRename):
    """

    defaults: UpcastOutDefaults
    drop: list[str]
    rename: UpcastOutRename
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        defaults = self.defaults.to_dict()

        drop = self.drop

        rename = self.rename.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "defaults": defaults,
                "drop": drop,
                "rename": rename,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.upcast_out_defaults import UpcastOutDefaults  # noqa: PLC0415
        from ..models.upcast_out_rename import UpcastOutRename  # noqa: PLC0415

        d = dict(src_dict)
        defaults = UpcastOutDefaults.from_dict(d.pop("defaults"))

        drop = cast(list[str], d.pop("drop"))

        rename = UpcastOutRename.from_dict(d.pop("rename"))

        upcast_out = cls(
            defaults=defaults,
            drop=drop,
            rename=rename,
        )

        upcast_out.additional_properties = d
        return upcast_out

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

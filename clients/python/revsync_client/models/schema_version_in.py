from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.compatibility import Compatibility
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.schema_version_in_schema_type_0 import SchemaVersionInSchemaType0
    from ..models.upcast_in import UpcastIn


T = TypeVar("T", bound="SchemaVersionIn")


@_attrs_define
class SchemaVersionIn:
    """A version to register.

    Attributes:
        schema (bool | SchemaVersionInSchemaType0): A JSON Schema (draft 2020-12) of the event's `data`.
        compatibility (Compatibility | None | Unset): The type's rule from this version on; default: the type's current
            one (`backward` for a new type).
        upcast (None | Unset | UpcastIn):
    """

    schema: bool | SchemaVersionInSchemaType0
    compatibility: Compatibility | None | Unset = UNSET
    upcast: None | Unset | UpcastIn = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.schema_version_in_schema_type_0 import SchemaVersionInSchemaType0  # noqa: PLC0415
        from ..models.upcast_in import UpcastIn  # noqa: PLC0415

        schema: bool | dict[str, Any]
        if isinstance(self.schema, SchemaVersionInSchemaType0):
            schema = self.schema.to_dict()
        else:
            schema = self.schema

        compatibility: None | str | Unset
        if isinstance(self.compatibility, Unset):
            compatibility = UNSET
        elif isinstance(self.compatibility, Compatibility):
            compatibility = self.compatibility.value
        else:
            compatibility = self.compatibility

        upcast: dict[str, Any] | None | Unset
        if isinstance(self.upcast, Unset):
            upcast = UNSET
        elif isinstance(self.upcast, UpcastIn):
            upcast = self.upcast.to_dict()
        else:
            upcast = self.upcast

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "schema": schema,
            }
        )
        if compatibility is not UNSET:
            field_dict["compatibility"] = compatibility
        if upcast is not UNSET:
            field_dict["upcast"] = upcast

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.schema_version_in_schema_type_0 import SchemaVersionInSchemaType0  # noqa: PLC0415
        from ..models.upcast_in import UpcastIn  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_schema(data: object) -> bool | SchemaVersionInSchemaType0:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                schema_type_0 = SchemaVersionInSchemaType0.from_dict(data)

                return schema_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(bool | SchemaVersionInSchemaType0, data)

        schema = _parse_schema(d.pop("schema"))

        def _parse_compatibility(data: object) -> Compatibility | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                compatibility_type_0 = Compatibility(data)

                return compatibility_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Compatibility | None | Unset, data)

        compatibility = _parse_compatibility(d.pop("compatibility", UNSET))

        def _parse_upcast(data: object) -> None | Unset | UpcastIn:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                upcast_type_0 = UpcastIn.from_dict(data)

                return upcast_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UpcastIn, data)

        upcast = _parse_upcast(d.pop("upcast", UNSET))

        schema_version_in = cls(
            schema=schema,
            compatibility=compatibility,
            upcast=upcast,
        )

        return schema_version_in

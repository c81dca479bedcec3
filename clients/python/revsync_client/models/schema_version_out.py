from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.compatibility import Compatibility

if TYPE_CHECKING:
    from ..models.schema_version_out_schema_type_0 import SchemaVersionOutSchemaType0
    from ..models.upcast_out import UpcastOut


T = TypeVar("T", bound="SchemaVersionOut")


@_attrs_define
class SchemaVersionOut:
    """A registered version.

    Attributes:
        compatibility (Compatibility): What a new version of a type must keep with the version before it.
        registered_at (datetime.datetime):
        schema (bool | SchemaVersionOutSchemaType0):
        source (str): `config`, `api` or `cli`.
        type_ (str):
        upcast (None | UpcastOut):
        uri (str): The `dataschema` that names this version.
        version (int):
    """

    compatibility: Compatibility
    registered_at: datetime.datetime
    schema: bool | SchemaVersionOutSchemaType0
    source: str
    type_: str
    upcast: None | UpcastOut
    uri: str
    version: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.schema_version_out_schema_type_0 import SchemaVersionOutSchemaType0  # noqa: PLC0415
        from ..models.upcast_out import UpcastOut  # noqa: PLC0415

        compatibility = self.compatibility.value

        registered_at = self.registered_at.isoformat()

        schema: bool | dict[str, Any]
        if isinstance(self.schema, SchemaVersionOutSchemaType0):
            schema = self.schema.to_dict()
        else:
            schema = self.schema

        source = self.source

        type_ = self.type_

        upcast: dict[str, Any] | None
        if isinstance(self.upcast, UpcastOut):
            upcast = self.upcast.to_dict()
        else:
            upcast = self.upcast

        uri = self.uri

        version = self.version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "compatibility": compatibility,
                "registered_at": registered_at,
                "schema": schema,
                "source": source,
                "type": type_,
                "upcast": upcast,
                "uri": uri,
                "version": version,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.schema_version_out_schema_type_0 import SchemaVersionOutSchemaType0  # noqa: PLC0415
        from ..models.upcast_out import UpcastOut  # noqa: PLC0415

        d = dict(src_dict)
        compatibility = Compatibility(d.pop("compatibility"))

        registered_at = datetime.datetime.fromisoformat(d.pop("registered_at"))

        def _parse_schema(data: object) -> bool | SchemaVersionOutSchemaType0:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                schema_type_0 = SchemaVersionOutSchemaType0.from_dict(data)

                return schema_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(bool | SchemaVersionOutSchemaType0, data)

        schema = _parse_schema(d.pop("schema"))

        source = d.pop("source")

        type_ = d.pop("type")

        def _parse_upcast(data: object) -> None | UpcastOut:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                upcast_type_0 = UpcastOut.from_dict(data)

                return upcast_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | UpcastOut, data)

        upcast = _parse_upcast(d.pop("upcast"))

        uri = d.pop("uri")

        version = d.pop("version")

        schema_version_out = cls(
            compatibility=compatibility,
            registered_at=registered_at,
            schema=schema,
            source=source,
            type_=type_,
            upcast=upcast,
            uri=uri,
            version=version,
        )

        schema_version_out.additional_properties = d
        return schema_version_out

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

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.cloud_event_in_data import CloudEventInData


T = TypeVar("T", bound="CloudEventIn")


@_attrs_define
class CloudEventIn:
    """A CloudEvent 1.0 (extension attributes are accepted and ignored). ``data`` or
    ``data_base64`` (not both) carries the data, a JSON object.

        Attributes:
            id (str):
            source (str):
            specversion (Literal['1.0']): Required: the CloudEvents version.
            subject (str): The product tenant id.
            time (datetime.datetime): RFC 3339 with an offset.
            type_ (str):
            data (CloudEventInData | Unset): The data as a JSON object.
            data_base64 (None | str | Unset): The data as base64 of a JSON object's UTF-8 bytes.
            datacontenttype (None | str | Unset): A JSON media type if given (application/json, …+json).
            dataschema (None | str | Unset): The registered schema version the data follows (urn:revsync:schema:<type>:<n>);
                the latest version without it.
    """

    id: str
    source: str
    specversion: Literal["1.0"]
    subject: str
    time: datetime.datetime
    type_: str
    data: CloudEventInData | Unset = UNSET
    data_base64: None | str | Unset = UNSET
    datacontenttype: None | str | Unset = UNSET
    dataschema: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        source = self.source

        specversion = self.specversion

        subject = self.subject

        time = self.time.isoformat()

        type_ = self.type_

        data: dict[str, Any] | Unset = UNSET
        if not isinstance(self.data, Unset):
            data = self.data.to_dict()

        data_base64: None | str | Unset
        if isinstance(self.data_base64, Unset):
            data_base64 = UNSET
        else:
            data_base64 = self.data_base64

        datacontenttype: None | str | Unset
        if isinstance(self.datacontenttype, Unset):
            datacontenttype = UNSET
        else:
            datacontenttype = self.datacontenttype

        dataschema: None | str | Unset
        if isinstance(self.dataschema, Unset):
            dataschema = UNSET
        else:
            dataschema = self.dataschema

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "source": source,
                "specversion": specversion,
                "subject": subject,
                "time": time,
                "type": type_,
            }
        )
        if data is not UNSET:
            field_dict["data"] = data
        if data_base64 is not UNSET:
            field_dict["data_base64"] = data_base64
        if datacontenttype is not UNSET:
            field_dict["datacontenttype"] = datacontenttype
        if dataschema is not UNSET:
            field_dict["dataschema"] = dataschema

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.cloud_event_in_data import CloudEventInData  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        source = d.pop("source")

        specversion = cast(Literal["1.0"], d.pop("specversion"))
        if specversion != "1.0":
            raise ValueError(f"specversion must match const '1.0', got '{specversion}'")

        subject = d.pop("subject")

        time = datetime.datetime.fromisoformat(d.pop("time"))

        type_ = d.pop("type")

        _data = d.pop("data", UNSET)
        data: CloudEventInData | Unset
        if isinstance(_data, Unset):
            data = UNSET
        else:
            data = CloudEventInData.from_dict(_data)

        def _parse_data_base64(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        data_base64 = _parse_data_base64(d.pop("data_base64", UNSET))

        def _parse_datacontenttype(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        datacontenttype = _parse_datacontenttype(d.pop("datacontenttype", UNSET))

        def _parse_dataschema(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        dataschema = _parse_dataschema(d.pop("dataschema", UNSET))

        cloud_event_in = cls(
            id=id,
            source=source,
            specversion=specversion,
            subject=subject,
            time=time,
            type_=type_,
            data=data,
            data_base64=data_base64,
            datacontenttype=datacontenttype,
            dataschema=dataschema,
        )

        cloud_event_in.additional_properties = d
        return cloud_event_in

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

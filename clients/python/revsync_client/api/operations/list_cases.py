import datetime
from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.case_kind import CaseKind
from ...models.case_page import CasePage
from ...models.case_status import CaseStatus
from ...models.error import Error
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    status: CaseStatus | None | Unset = UNSET,
    kind: CaseKind | None | Unset = UNSET,
    destination: None | str | Unset = UNSET,
    object_id: None | str | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
    until: datetime.datetime | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_status: None | str | Unset
    if isinstance(status, Unset):
        json_status = UNSET
    elif isinstance(status, CaseStatus):
        json_status = status.value
    else:
        json_status = status
    params["status"] = json_status

    json_kind: None | str | Unset
    if isinstance(kind, Unset):
        json_kind = UNSET
    elif isinstance(kind, CaseKind):
        json_kind = kind.value
    else:
        json_kind = kind
    params["kind"] = json_kind

    json_destination: None | str | Unset
    if isinstance(destination, Unset):
        json_destination = UNSET
    else:
        json_destination = destination
    params["destination"] = json_destination

    json_object_id: None | str | Unset
    if isinstance(object_id, Unset):
        json_object_id = UNSET
    else:
        json_object_id = object_id
    params["object_id"] = json_object_id

    json_since: None | str | Unset
    if isinstance(since, Unset):
        json_since = UNSET
    elif isinstance(since, datetime.datetime):
        json_since = since.isoformat()
    else:
        json_since = since
    params["since"] = json_since

    json_until: None | str | Unset
    if isinstance(until, Unset):
        json_until = UNSET
    elif isinstance(until, datetime.datetime):
        json_until = until.isoformat()
    else:
        json_until = until
    params["until"] = json_until

    json_cursor: None | str | Unset
    if isinstance(cursor, Unset):
        json_cursor = UNSET
    else:
        json_cursor = cursor
    params["cursor"] = json_cursor

    params["limit"] = limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/cases",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> CasePage | Error | None:
    if response.status_code == 200:
        response_200 = CasePage.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Error.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Error.from_dict(response.json())

        return response_403

    if response.status_code == 422:
        response_422 = Error.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = Error.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = Error.from_dict(response.json())

        return response_500

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[CasePage | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    status: CaseStatus | None | Unset = UNSET,
    kind: CaseKind | None | Unset = UNSET,
    destination: None | str | Unset = UNSET,
    object_id: None | str | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
    until: datetime.datetime | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> Response[CasePage | Error]:
    """Exception cases

    Args:
        status (CaseStatus | None | Unset):
        kind (CaseKind | None | Unset):
        destination (None | str | Unset):
        object_id (None | str | Unset):
        since (datetime.datetime | None | Unset): Opened at or after.
        until (datetime.datetime | None | Unset): Opened before.
        cursor (None | str | Unset):
        limit (int | Unset):  Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CasePage | Error]
    """

    kwargs = _get_kwargs(
        status=status,
        kind=kind,
        destination=destination,
        object_id=object_id,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    status: CaseStatus | None | Unset = UNSET,
    kind: CaseKind | None | Unset = UNSET,
    destination: None | str | Unset = UNSET,
    object_id: None | str | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
    until: datetime.datetime | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> CasePage | Error | None:
    """Exception cases

    Args:
        status (CaseStatus | None | Unset):
        kind (CaseKind | None | Unset):
        destination (None | str | Unset):
        object_id (None | str | Unset):
        since (datetime.datetime | None | Unset): Opened at or after.
        until (datetime.datetime | None | Unset): Opened before.
        cursor (None | str | Unset):
        limit (int | Unset):  Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CasePage | Error
    """

    return sync_detailed(
        client=client,
        status=status,
        kind=kind,
        destination=destination,
        object_id=object_id,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    status: CaseStatus | None | Unset = UNSET,
    kind: CaseKind | None | Unset = UNSET,
    destination: None | str | Unset = UNSET,
    object_id: None | str | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
    until: datetime.datetime | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> Response[CasePage | Error]:
    """Exception cases

    Args:
        status (CaseStatus | None | Unset):
        kind (CaseKind | None | Unset):
        destination (None | str | Unset):
        object_id (None | str | Unset):
        since (datetime.datetime | None | Unset): Opened at or after.
        until (datetime.datetime | None | Unset): Opened before.
        cursor (None | str | Unset):
        limit (int | Unset):  Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CasePage | Error]
    """

    kwargs = _get_kwargs(
        status=status,
        kind=kind,
        destination=destination,
        object_id=object_id,
        since=since,
        until=until,
        cursor=cursor,
        limit=limit,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    status: CaseStatus | None | Unset = UNSET,
    kind: CaseKind | None | Unset = UNSET,
    destination: None | str | Unset = UNSET,
    object_id: None | str | Unset = UNSET,
    since: datetime.datetime | None | Unset = UNSET,
    until: datetime.datetime | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    limit: int | Unset = 100,
) -> CasePage | Error | None:
    """Exception cases

    Args:
        status (CaseStatus | None | Unset):
        kind (CaseKind | None | Unset):
        destination (None | str | Unset):
        object_id (None | str | Unset):
        since (datetime.datetime | None | Unset): Opened at or after.
        until (datetime.datetime | None | Unset): Opened before.
        cursor (None | str | Unset):
        limit (int | Unset):  Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CasePage | Error
    """

    return (
        await asyncio_detailed(
            client=client,
            status=status,
            kind=kind,
            destination=destination,
            object_id=object_id,
            since=since,
            until=until,
            cursor=cursor,
            limit=limit,
        )
    ).parsed

from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.line_events_out import LineEventsOut
from ...types import UNSET, Response, Unset


def _get_kwargs(
    invoice_id: str,
    key: str,
    *,
    cursor: int | None | Unset = UNSET,
    limit: int | Unset = 100,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_cursor: int | None | Unset
    if isinstance(cursor, Unset):
        json_cursor = UNSET
    else:
        json_cursor = cursor
    params["cursor"] = json_cursor

    params["limit"] = limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/v1/invoices/{invoice_id}/lines/{key}/events".format(
            invoice_id=quote(str(invoice_id), safe=""),
            key=quote(str(key), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | LineEventsOut | None:
    if response.status_code == 200:
        response_200 = LineEventsOut.from_dict(response.json())

        return response_200

    if response.status_code == 401:
        response_401 = Error.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Error.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = Error.from_dict(response.json())

        return response_404

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
) -> Response[Error | LineEventsOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    invoice_id: str,
    key: str,
    *,
    client: AuthenticatedClient | Client,
    cursor: int | None | Unset = UNSET,
    limit: int | Unset = 100,
) -> Response[Error | LineEventsOut]:
    """The events behind a usage line

     The events that made a usage line (exactly those counted when it was rated).

    Args:
        invoice_id (str):
        key (str):
        cursor (int | None | Unset): next_cursor of the previous page
        limit (int | Unset):  Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | LineEventsOut]
    """

    kwargs = _get_kwargs(
        invoice_id=invoice_id,
        key=key,
        cursor=cursor,
        limit=limit,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    invoice_id: str,
    key: str,
    *,
    client: AuthenticatedClient | Client,
    cursor: int | None | Unset = UNSET,
    limit: int | Unset = 100,
) -> Error | LineEventsOut | None:
    """The events behind a usage line

     The events that made a usage line (exactly those counted when it was rated).

    Args:
        invoice_id (str):
        key (str):
        cursor (int | None | Unset): next_cursor of the previous page
        limit (int | Unset):  Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | LineEventsOut
    """

    return sync_detailed(
        invoice_id=invoice_id,
        key=key,
        client=client,
        cursor=cursor,
        limit=limit,
    ).parsed


async def asyncio_detailed(
    invoice_id: str,
    key: str,
    *,
    client: AuthenticatedClient | Client,
    cursor: int | None | Unset = UNSET,
    limit: int | Unset = 100,
) -> Response[Error | LineEventsOut]:
    """The events behind a usage line

     The events that made a usage line (exactly those counted when it was rated).

    Args:
        invoice_id (str):
        key (str):
        cursor (int | None | Unset): next_cursor of the previous page
        limit (int | Unset):  Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | LineEventsOut]
    """

    kwargs = _get_kwargs(
        invoice_id=invoice_id,
        key=key,
        cursor=cursor,
        limit=limit,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    invoice_id: str,
    key: str,
    *,
    client: AuthenticatedClient | Client,
    cursor: int | None | Unset = UNSET,
    limit: int | Unset = 100,
) -> Error | LineEventsOut | None:
    """The events behind a usage line

     The events that made a usage line (exactly those counted when it was rated).

    Args:
        invoice_id (str):
        key (str):
        cursor (int | None | Unset): next_cursor of the previous page
        limit (int | Unset):  Default: 100.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | LineEventsOut
    """

    return (
        await asyncio_detailed(
            invoice_id=invoice_id,
            key=key,
            client=client,
            cursor=cursor,
            limit=limit,
        )
    ).parsed
